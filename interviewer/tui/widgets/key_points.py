"""The rubric result: covered points, missed points, misconceptions; with
follow-ups, each point given unprompted, after a prompt (with the probe),
or missed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from questions.assessment import Assessment, MisconceptionResult

if TYPE_CHECKING:
    from interviewer.session.followup import QuestionGrade

MARKS = {"covered": ("✔", "green"), "partial": ("~", "yellow"), "missed": ("✘", "red")}
PROMPTED = ("↪", "cyan")
"""The mark of a point given only after a follow-up's prompt."""


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
    _misconceptions(out, assessment.misconceptions)
    out.rstrip()
    return out


def _misconceptions(out: Text, found: tuple[MisconceptionResult, ...], note: str = "") -> None:
    for m in found:
        out.append(" ! ", style="bold red")
        out.append(m.text + note, style="red")
        if m.correction:
            out.append(f"\n   Correction: {m.correction}", style="green")
        out.append("\n")


def render_question_grade(grade: QuestionGrade) -> Text:
    """Each key point given unprompted (✔ or ~ with its words), after a
    prompt (↪, with the probe and what it added), or missed (✘); then the
    misconceptions, those of the follow-ups marked as such."""
    out = Text()
    for p in grade.points:
        mark, colour = PROMPTED if p.given == "prompted" else MARKS.get(p.status, ("?", "white"))
        out.append(f" {mark} ", style=f"bold {colour}")
        out.append(p.text)
        if p.given == "missed":
            out.append("  (missed)", style="dim")
        elif p.evidence:
            out.append(f'  — "{p.evidence}"', style="italic")
        if p.status == "partial" and p.missing:
            out.append(f"\n   not said: {p.missing}", style="yellow")
        if p.probe:
            if p.given == "prompted":
                outcome = f"given after the prompt: +{round(p.recovered * 100)}"
            elif p.reply_state == "skipped":
                outcome = "skipped"
            elif p.reply_state != "graded":
                outcome = f"not graded yet ({p.reply_state})"
            else:
                outcome = "not given after the prompt either"
            out.append(f"\n   asked: {p.probe} — {outcome}", style="cyan")
        out.append("\n")
    _misconceptions(out, grade.assessment.misconceptions)
    _misconceptions(out, grade.charged, " (in a follow-up)")
    out.rstrip()
    return out


def key_point_grid(assessment: Assessment | QuestionGrade) -> Table:
    """``render_key_points`` (or ``render_question_grade``) as a two-column
    grid: the marks in one column, so a long point wraps under its own text,
    not under the mark."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(ratio=1)
    text = (
        render_key_points(assessment) if isinstance(assessment, Assessment)
        else render_question_grade(assessment)
    )
    for item in text.split("\n"):
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

    def show(self, assessment: Assessment | QuestionGrade) -> None:
        """An answer's grade, or a question's grade with its follow-ups."""
        self.update(key_point_grid(assessment))
