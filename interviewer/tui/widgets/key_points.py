"""The rubric result: covered points, missed points, misconceptions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from questions.assessment import Assessment

MARKS = {"covered": ("✔", "green"), "partial": ("~", "yellow"), "missed": ("✘", "red")}


def render_key_points(assessment: Assessment) -> Text:
    out = Text()
    for k in assessment.key_points:
        mark, colour = MARKS.get(k.status, ("?", "white"))
        out.append(f" {mark} ", style=f"bold {colour}")
        out.append(k.text)
        if k.status == "missed":
            out.append("  (missed)", style="dim")
        elif k.evidence is not None:
            out.append(f'  — "{k.evidence.text}"', style="italic")
        if k.status == "partial" and k.missing:
            out.append(f"\n   not said: {k.missing}", style="yellow")
        out.append("\n")
    for m in assessment.misconceptions:
        out.append(" ! ", style="bold red")
        out.append(m.text, style="red")
        if m.correction:
            out.append(f"\n   Correction: {m.correction}", style="green")
        out.append("\n")
    out.rstrip()
    return out


class KeyPointList(Static):
    """Renders an assessment's key points and misconceptions."""

    DEFAULT_CSS = """
    KeyPointList { height: auto; padding: 0 1; }
    """

    def show(self, assessment: Assessment) -> None:
        self.update(render_key_points(assessment))
