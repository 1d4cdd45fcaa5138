"""Every attempt of one question side by side: which key points changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from interviewer.tui.queries import key_point_changes
from interviewer.tui.screens.base import ReportsWorkerErrors

if TYPE_CHECKING:
    from interviewer.session.model import Attempt

MARK = {"covered": ("✔", "green"), "partial": ("~", "yellow"), "missed": ("✘", "red")}


class CompareScreen(ReportsWorkerErrors, Screen[None]):
    """Columns are attempts (oldest first); rows are key points."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, question_id: str) -> None:
        super().__init__()
        self.question_id = question_id
        self.attempts: list[Attempt] = []

    def compose(self) -> ComposeResult:
        bank = self.app.deps.bank
        q = bank.get(self.question_id) if self.question_id in bank else None
        with Vertical(id="cmp"):
            yield Label(f"[b]{q.prompt if q else self.question_id}[/b]", id="cmp-title")
            yield DataTable(id="cmp-table", cursor_type="row")
            yield Label("", id="cmp-note")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="cmp-load", exit_on_error=False)
    def load(self) -> None:
        attempts = self.app.deps.store.attempts(question_id=self.question_id, states=("graded",))
        self.app.call_from_thread(self._show, attempts)

    def _show(self, attempts: list[Attempt]) -> None:
        self.attempts = attempts
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_column("key point", width=34)
        for a in attempts:
            score = "—" if a.score is None else str(round(a.score * 100))
            table.add_column(f"#{a.id} {a.started_at[5:10]} {score}")
        table.add_column("changed")
        changed = 0
        for text, statuses in key_point_changes(attempts):
            cells: list[str | Text] = [text]
            for s in statuses:
                mark, colour = MARK.get(s, ("-", "dim"))
                cells.append(Text(mark, style=colour))
            moved = len({s for s in statuses if s != "-"}) > 1
            changed += moved
            cells.append(Text("yes", style="bold") if moved else Text(""))
            table.add_row(*cells)
        self.query_one("#cmp-note", Label).update(
            f"{len(attempts)} graded attempt(s); {changed} key point(s) changed"
        )

    def action_back(self) -> None:
        self.dismiss(None)
