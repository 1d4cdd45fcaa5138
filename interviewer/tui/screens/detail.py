"""One attempt: transcript with evidence, the assessment (with the
follow-up exchange: each probe, the reply and what it added), delivery,
audio replay."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from interviewer.tui.messages import PlaybackEnded
from interviewer.tui.screens.base import ReportsWorkerErrors
from interviewer.tui.screens.feedback import delivery_text, grade_line, score_line
from interviewer.tui.widgets.key_points import KeyPointList
from interviewer.tui.widgets.transcript import TranscriptView

if TYPE_CHECKING:
    from interviewer.session.followup import QuestionGrade
    from interviewer.session.model import Attempt


def followup_exchange(grade: QuestionGrade) -> Text:
    """Each follow-up as asked: the probe, the reply, and what came of it."""
    out = Text()
    points = {p.text: p for p in grade.points}
    for f in grade.followups:
        point = points.get(f.key_point_text)
        out.append(f"Follow-up {f.position}: ", style="bold")
        out.append(f"{f.prompt}\n")
        reply = (f.transcript or "").strip()
        if reply:
            how = "typed" if f.typed else "said"
            out.append(f"  {how}: ", style="dim")
            out.append(f"{reply}\n", style="italic")
        if f.state == "skipped":
            outcome = "skipped (costs nothing)"
        elif f.state != "graded":
            outcome = f"not graded yet ({f.state}): offered for recovery on the home screen"
        elif point is not None and point.given == "prompted":
            outcome = f"{f.key_point_text}: given after the prompt, +{round(point.recovered * 100)}"
        elif point is not None and point.given == "unprompted":
            outcome = f"{f.key_point_text}: in the answer itself, nothing to recover"
        else:
            outcome = f"{f.key_point_text}: still missed"
        out.append(f"  {outcome}\n", style="cyan")
    out.rstrip()
    return out


class AttemptDetailScreen(ReportsWorkerErrors, Screen[None]):
    """A saved attempt; p replays its audio, e corrects the transcript."""

    BINDINGS = [
        Binding("p", "play", "Play/stop audio"),
        Binding("e", "edit", "Edit transcript"),
        Binding("c", "compare", "Compare"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, attempt: Attempt) -> None:
        super().__init__()
        self.attempt = attempt
        self.grade: QuestionGrade | None = None
        """The attempt's grade with its follow-ups (read on a worker), when it had any."""
        self._stop_audio = threading.Event()
        self.playing = False

    def compose(self) -> ComposeResult:
        bank = self.app.deps.bank
        q = bank.get(self.attempt.question_id) if self.attempt.question_id in bank else None
        with VerticalScroll(id="dt-body"):
            yield Label("", id="dt-score")
            yield Static(f"[b]{q.prompt if q else self.attempt.question_id}[/b]", id="dt-question")
            yield Label(self._meta(), id="dt-meta")
            yield Label("Answer", classes="section")
            yield TranscriptView("", id="dt-transcript")
            yield Label("Key points", classes="section")
            yield KeyPointList("", id="dt-points")
            yield Label("Follow-ups", classes="section", id="dt-followups-title")
            yield Static("", id="dt-followups")
            yield Label("Delivery", classes="section")
            yield Static("", id="dt-delivery")
            if q is not None:
                yield Label("Reference answer", classes="section")
                yield Static(q.reference.strip(), id="dt-reference")
        yield Footer()

    def _meta(self) -> str:
        a = self.attempt
        parts = [f"attempt {a.id}", a.started_at[:16].replace("T", " ") + " UTC", a.state]
        if a.duration_s:
            parts.append(f"{a.duration_s:.0f}s of audio")
        if a.transcript_edited:
            parts.append("transcript corrected by hand")
        return " · ".join(parts)

    def on_mount(self) -> None:
        self._refresh_view()
        self.load_grade()

    @work(thread=True, exclusive=True, group="dt-grade", exit_on_error=False)
    def load_grade(self) -> None:
        from interviewer.session.followup import attempt_grade

        app, a = self.app, self.attempt
        if a.question_id not in app.deps.bank:
            return
        grade = attempt_grade(app.deps.store, app.deps.bank.get(a.question_id), a)
        app.call_from_thread(self._show_grade, grade if grade is not None and grade.followups else None)

    def _show_grade(self, grade: QuestionGrade | None) -> None:
        self.grade = grade
        self._refresh_view()

    def _refresh_view(self) -> None:
        from questions.assessment import Assessment

        a = self.attempt
        assessment = Assessment.from_dict(a.assessment) if a.assessment else None
        grade = self.grade
        self.query_one("#dt-followups-title").display = grade is not None
        self.query_one("#dt-followups").display = grade is not None
        if grade is not None:
            self.query_one("#dt-score", Label).update(grade_line(grade))
            self.query_one("#dt-points", KeyPointList).show(grade)
            self.query_one("#dt-followups", Static).update(followup_exchange(grade))
        elif assessment is not None:
            self.query_one("#dt-score", Label).update(score_line(assessment))
            self.query_one("#dt-points", KeyPointList).show(assessment)
        else:
            self.query_one("#dt-score", Label).update(Text(f"not graded ({a.state})", style="dim"))
        self.query_one("#dt-transcript", TranscriptView).show(a.transcript or "", assessment)
        self.query_one("#dt-delivery", Static).update(delivery_text(a.delivery, a.typed))
        self.query_one("#dt-meta", Label).update(self._meta())

    # -- audio ------------------------------------------------------------------------
    def action_play(self) -> None:
        if self.playing:
            self._stop_audio.set()
            return
        if not self.attempt.audio_path:
            self.notify("This answer was typed: there is no audio.", timeout=3)
            return
        self._stop_audio.clear()
        self.playing = True
        self.notify("Playing… (p stops)", timeout=2)
        self.play()

    @work(thread=True, exclusive=True, group="dt-play", exit_on_error=False)
    def play(self) -> None:
        from interviewer.tui.player import PlaybackError, play

        notice = None
        try:
            play(self.attempt.audio_path, self._stop_audio, self.app.settings.output_device)
        except PlaybackError as exc:
            notice = str(exc)
        self.post_message(PlaybackEnded(notice))

    def worker_failed(self, worker) -> None:
        if worker.group == "dt-play":
            self.playing = False

    def on_playback_ended(self, message: PlaybackEnded) -> None:
        self.playing = False
        if message.notice:
            self.notify(message.notice, severity="warning", timeout=6)

    # -- correction --------------------------------------------------------------------
    def action_edit(self) -> None:
        from interviewer.tui.screens.dialogs import EditTextDialog

        def done(text: str | None) -> None:
            if text is not None and text.strip():
                self.regrade(text)

        self.app.push_screen(EditTextDialog("Correct the transcript", self.attempt.transcript or ""),
                             done)

    @work(thread=True, exclusive=True, group="dt-regrade", exit_on_error=False)
    def regrade(self, text: str) -> None:
        from interviewer.session.answers import regrade_attempt
        from interviewer.tui import queries

        app = self.app
        grader = queries.current_grader(app.ports_state)
        updated, _ = regrade_attempt(app.deps.store, app.deps.bank, grader, self.attempt.id, text=text)
        app.call_from_thread(self._updated, updated)

    def _updated(self, attempt: Attempt) -> None:
        self.attempt = attempt
        self._refresh_view()
        self.load_grade()  # its follow-ups were graded again too
        self.notify("Re-graded with your correction.", timeout=3)

    def action_compare(self) -> None:
        from interviewer.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.attempt.question_id))

    def action_back(self) -> None:
        self._stop_audio.set()
        self.dismiss(None)
