"""The rubric result: covered points, missed points, misconceptions."""

from __future__ import annotations

from rich.table import Table
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


def key_point_grid(assessment: Assessment) -> Table:
    """``render_key_points`` as a two-column grid: the marks in one column,
    so a long point wraps under its own text, not under the mark."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(ratio=1)
    for item in render_key_points(assessment).split("\n"):
        plain = item.plain
        if plain.startswith(" ") and len(plain) > 2 and plain[2] == " " and plain[1] != " ":
            grid.add_row(item[1:2], item[3:])
        else:  # a continuation line ("not said", "Correction")
            grid.add_row(Text(""), item[3:] if plain.startswith("   ") else item)
    return grid


class KeyPointList(Static):
    """Renders an assessment's key points and misconceptions."""

    DEFAULT_CSS = """
    KeyPointList { height: auto; padding: 0 1; }
    """

    def show(self, assessment: Assessment) -> None:
        self.update(key_point_grid(assessment))
