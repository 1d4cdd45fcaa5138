"""The end of a session: per-question score and time, total, personal best."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from interviewer.tui.messages import AnswerScored
from interviewer.tui.screens.base import ReportsWorkerErrors

if TYPE_CHECKING:
    from interviewer.session.summary import SessionSummary


def _pct(score: float | None) -> str:
    return "—" if score is None else f"{round(score * 100)}"


def summary_rows(summary: SessionSummary | None, results: list[AnswerScored]) -> list[tuple[str, str, str, str]]:
    """(question, score, time, state) per question: the engine's summary, or
    the answers this screen saw when there is none."""
    rows = []
    for r in summary.results if summary is not None else ():
        secs = r.answer_time_s
        state = "no speech" if r.no_speech else r.state
        if state in ("recording", "recorded", "transcribed"):
            state = "not graded: kept for recovery"
        if r.timed_out:
            state += ", time up"
        rows.append((r.question_id, _pct(r.score), "—" if secs is None else f"{secs:.0f}s", state))
    if rows or summary is not None:
        return rows
    for m in results:
        secs = m.answer_time_s
        rows.append((m.question_id, _pct(m.assessment.score),
                     "—" if secs is None else f"{secs:.0f}s", "graded"))
    return rows


def totals_line(summary: SessionSummary | None, rapid: bool) -> str:
    """Total points (each question is worth 100), mean, and the personal best."""
    if summary is None:
        return ""
    n = len(summary.results)
    line = f"Total {round(summary.total * 100)}/{n * 100}"
    line += f" · mean {_pct(summary.mean)}/100 · {summary.answered} answered"
    if rapid:
        if summary.new_best:
            line += " · new personal best!"
        elif summary.previous_best is not None:
            line += f" · personal best {round(summary.previous_best * 100)}"
    return line


class SummaryScreen(ReportsWorkerErrors, Screen[None]):
    """Shown when a session ends (rapid rounds and practice)."""

    BINDINGS = [
        Binding("escape,enter,q", "close", "Home"),
        Binding("v", "review", "Review"),
    ]

    def __init__(
        self, summary: SessionSummary | None, results: list[AnswerScored], rapid: bool
    ) -> None:
        super().__init__()
        self.summary = summary
        self.results = results
        self.rapid = rapid

    def compose(self) -> ComposeResult:
        title = "Rapid-fire round" if self.rapid else "Practice session"
        with Vertical(id="summary"):
            yield Label(f"[b]{title}: done[/b]", id="sum-title")
            yield DataTable(id="sum-table", cursor_type="row")
            yield Label(totals_line(self.summary, self.rapid), id="sum-total")
            kept = len(self.summary.ungraded) if self.summary is not None else 0
            if kept:
                yield Label(
                    f"{kept} answer{'s' if kept > 1 else ''} could not be graded in time: "
                    "kept, and offered for recovery on the home screen",
                    id="sum-ungraded",
                )
        yield Footer()

    def on_mount(self) -> None:
        tables = self.query(DataTable)
        if not tables:  # the app is closing while this screen mounts
            return
        table = tables.first()
        table.add_columns("#", "question", "score", "time", "result")
        for i, row in enumerate(summary_rows(self.summary, self.results), 1):
            table.add_row(str(i), *row)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_review(self) -> None:
        self.dismiss(None)
        self.app.open_review()
