"""Review: every attempt in a table, filtered; re-grading; progress charts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar

from interviewer.tui import queries
from interviewer.tui.messages import AttemptsLoaded, RegradeProgressed
from interviewer.tui.screens.base import ReportsWorkerErrors
from interviewer.tui.widgets.progress_chart import ProgressChart

if TYPE_CHECKING:
    from interviewer.session.model import Attempt
    from questions.model import Bank


def attempt_row(a: Attempt, bank: Bank) -> tuple[str, ...]:
    topics = ", ".join(bank.get(a.question_id).topics) if a.question_id in bank else ""
    score = "—" if a.score is None else str(round(a.score * 100))
    how = "typed" if a.typed else "spoken"
    return (str(a.id), a.started_at[:16].replace("T", " "), a.question_id, topics, a.state,
            score, how)


class ReviewScreen(ReportsWorkerErrors, Screen[None]):
    """All attempts; enter opens one, c compares a question's attempts."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("c", "compare", "Compare"),
        Binding("g", "regrade", "Re-grade all"),
        Binding("h", "chart", "Chart"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all_attempts: list[Attempt] = []
        self.shown: list[Attempt] = []
        self.chart_kind = "none"

    def compose(self) -> ComposeResult:
        with Vertical(id="rv"):
            with Horizontal(id="rv-filters"):
                yield Input(placeholder="question", id="f-question")
                yield Input(placeholder="topic", id="f-topic")
                yield Input(placeholder="date YYYY-MM", id="f-day")
                yield Input(placeholder="min score", id="f-score", type="integer")
            yield DataTable(id="rv-table", cursor_type="row", zebra_stripes=True)
            yield ProgressChart(id="rv-chart")
            with Horizontal(id="rv-regrade"):
                yield Label("re-grading", id="rv-regrade-label")
                yield ProgressBar(id="rv-regrade-bar", show_eta=False)
            yield Label("", id="rv-count")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "date (UTC)", "question", "topics", "state", "score", "how")
        self.query_one("#rv-chart").display = False
        self.query_one("#rv-regrade").display = False
        table.focus()
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="rv-load", exit_on_error=False)
    def load(self) -> None:
        attempts = self.app.deps.store.attempts(newest_first=True)
        self.post_message(AttemptsLoaded(attempts))

    def on_attempts_loaded(self, message: AttemptsLoaded) -> None:
        self.all_attempts = message.attempts
        self._apply_filters()

    def _filters(self) -> queries.Filters:
        score = self.query_one("#f-score", Input).value.strip()
        return queries.Filters(
            question=self.query_one("#f-question", Input).value.strip(),
            topic=self.query_one("#f-topic", Input).value.strip(),
            day=self.query_one("#f-day", Input).value.strip(),
            min_score=int(score) if score.lstrip("-").isdigit() else None,
        )

    @on(Input.Changed)
    def _apply_filters(self) -> None:
        bank = self.app.deps.bank
        self.shown = queries.filter_attempts(self.all_attempts, bank, self._filters())
        table = self.query_one(DataTable)
        table.clear()
        for a in self.shown:
            table.add_row(*attempt_row(a, bank), key=str(a.id))
        self.query_one("#rv-count", Label).update(
            f"{len(self.shown)} of {len(self.all_attempts)} attempts"
        )
        if self.chart_kind != "none":
            self.query_one(ProgressChart).show(queries.score_points(self.shown, bank))

    @on(Input.Submitted)
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def _selected(self) -> Attempt | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        attempt = self._selected()
        if attempt is None:
            return
        from interviewer.tui.screens.detail import AttemptDetailScreen

        self.app.push_screen(AttemptDetailScreen(attempt))

    def action_compare(self) -> None:
        attempt = self._selected()
        if attempt is None:
            return
        from interviewer.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(attempt.question_id))

    def action_filter(self) -> None:
        self.query_one("#f-question", Input).focus()

    def action_chart(self) -> None:
        order = {"none": "time", "time": "topic", "topic": "none"}
        self.chart_kind = order[self.chart_kind]
        chart = self.query_one(ProgressChart)
        chart.display = self.chart_kind != "none"
        self.query_one(DataTable).display = self.chart_kind == "none"
        if self.chart_kind != "none":
            chart.kind = self.chart_kind
            chart.show(queries.score_points(self.shown, self.app.deps.bank))

    def action_back(self) -> None:
        if self.focused is not None and isinstance(self.focused, Input):
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)

    # -- re-grading with the current matcher ------------------------------------------
    def action_regrade(self) -> None:
        targets = [a for a in self.shown if a.transcript and a.state in ("graded", "transcribed")]
        if not targets:
            self.notify("Nothing to re-grade (no transcribed attempts shown).", timeout=3)
            return
        self.query_one("#rv-regrade").display = True
        self.query_one("#rv-regrade-bar", ProgressBar).update(total=len(targets), progress=0)
        self.regrade([a.id for a in targets])

    @work(thread=True, exclusive=True, group="rv-regrade", exit_on_error=False)
    def regrade(self, attempt_ids: list[int]) -> None:
        from textual.worker import get_current_worker

        from interviewer.session.answers import regrade_attempts

        worker = get_current_worker()
        deps = self.app.deps
        grader = queries.current_grader(self.app.ports_state)
        changed = 0
        regrades = regrade_attempts(deps.store, deps.bank, grader, attempt_ids)
        for done, score_changed in enumerate(regrades, 1):
            changed += score_changed
            self.post_message(RegradeProgressed(done, len(attempt_ids), changed))
            if worker.is_cancelled:
                return

    def worker_failed(self, worker) -> None:
        if worker.group == "rv-regrade":
            self.query_one("#rv-regrade").display = False

    def on_regrade_progressed(self, message: RegradeProgressed) -> None:
        self.query_one("#rv-regrade-bar", ProgressBar).update(progress=message.done)
        if message.done == message.total:
            self.query_one("#rv-regrade").display = False
            self.notify(
                f"Re-graded {message.total} attempt(s); {message.changed} score(s) changed.",
                timeout=5,
            )
            self.load()
