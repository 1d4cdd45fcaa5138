"""The interview: ask, listen (or type), transcribe, grade; practice and rapid-fire.

The screen never runs engine steps on the UI thread: each step is a named
thread worker that posts a past-tense message, and the handlers below only
render those messages. One lock keeps the engine's steps in order.

In practice, once an answer is graded the engine may offer a follow-up on
a key point it left out: the screen shows "Follow-up" with the probe, the
probe is spoken like a question and the reply is given the same way (space,
t to type, s skips it at no cost); after the last follow-up comes the
feedback. Rapid-fire rounds never follow up.

Rapid-fire rounds hand each spoken answer to the engine's background grader
(``defer_answer``) and ask the next question at once; a small indicator in
the top bar counts the answers still being graded, and the round summary
waits (with a progress bar) until the last one is graded. Practice shows
feedback after each answer.

While the person speaks, the engine transcribes finished stretches of the
answer; the listening worker posts ``TranscriptUpdated`` whenever the text so
far grows and the screen shows it dimmed, so the "transcribing" state after
the answer only covers its last few seconds.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar, Static, TextArea
from textual.worker import Worker

from audio.errors import one_line
from interviewer.session.model import SessionConfig
from interviewer.tui.messages import (
    AnswerDeferred,
    AnswerRecorded,
    AnswerScored,
    AnswerSkipped,
    AnswerStarted,
    FollowUpAsked,
    GradingFailed,
    LevelChanged,
    LoadProgressed,
    MicrophoneMissing,
    QuestionAsked,
    QuestionSpoken,
    RoundGrading,
    SessionFailed,
    SessionFinished,
    SessionStarted,
    TranscriptReady,
    TranscriptUpdated,
)
from interviewer.tui.screens.base import ReportsWorkerErrors
from interviewer.tui.widgets.countdown import Countdown
from interviewer.tui.widgets.level_meter import LevelMeter
from interviewer.tui.widgets.transcript import TranscriptView

if TYPE_CHECKING:
    from interviewer.session.engine import SessionEngine
    from interviewer.session.followup import QuestionGrade
    from interviewer.session.rapid import GradedAnswer
    from questions.assessment import Assessment
    from questions.model import Question


class UiState(str, Enum):
    """What the screen is doing now (``label`` is the line under the question)."""

    LOADING = "loading"
    STARTING = "starting"
    SPEAKING = "speaking"
    READY = "ready"
    LISTENING = "listening"
    TYPING = "typing"
    TRANSCRIBING = "transcribing"
    GRADING = "grading"
    WAITING = "waiting"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    UiState.LOADING: "loading speech parts…",
    UiState.STARTING: "starting…",
    UiState.SPEAKING: "🔊 speaking the question",
    UiState.READY: "ready: press space to answer (t to type)",
    UiState.LISTENING: "● listening: press space when done",
    UiState.TYPING: "✎ typing: ctrl+s to submit",
    UiState.TRANSCRIBING: "transcribing…",
    UiState.GRADING: "grading…",
    UiState.WAITING: "grading the last answers…",
    UiState.FINISHED: "session finished",
    UiState.FAILED: "that step failed: s skips the question, t types the answer, esc ends",
}

_FOLLOWUP_LABELS = {
    UiState.SPEAKING: "🔊 asking a follow-up",
    UiState.READY: "ready: press space to answer the follow-up (t to type, s to skip it)",
    UiState.TYPING: "✎ typing: ctrl+s to submit (empty skips the follow-up)",
}
"""The state line while a follow-up is asked, where it differs."""


class InterviewScreen(ReportsWorkerErrors, Screen[None]):
    """One session: the question, its state, live level, time and transcript."""

    BINDINGS = [
        Binding("space", "toggle_answer", "Answer/stop"),
        Binding("s", "skip", "Skip"),
        Binding("r", "repeat", "Repeat"),
        Binding("t", "type_answer", "Type"),
        Binding("ctrl+s", "submit_typed", "Submit typed"),
        Binding("escape", "leave", "End session"),
    ]

    state: reactive[UiState] = reactive(UiState.STARTING)
    """What the session is doing now."""

    def __init__(self, config: SessionConfig, typed: bool = False, single: bool = False) -> None:
        super().__init__()
        self.config = config
        self.single = single
        """A one-question retry inside another session: no summary at the end."""
        self.forced_typed = typed
        """Typed answers were asked for on the command line (no speech at all)."""
        self.typed = typed
        """Answers are typed (forced, or no microphone was found)."""
        self.engine: SessionEngine | None = None
        """Built on the first worker once the speech parts are loaded."""
        self.total = 0
        self.question: Question | None = None
        """The question on screen (set on the UI thread from ``QuestionAsked``)."""
        self.results: list[AnswerScored] = []
        self._progress = ""
        """The top bar's "Practice · question 2 of 5"."""
        self.followup_position = 0
        """The follow-up on screen (1 or 2), 0 while the question itself is asked."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel_speech = threading.Event()
        self._skip_requested = False
        self._skipped_followup = False
        """The listening worker skipped a follow-up (not the question)."""
        self._quitting = False
        """The app is closing: an answer being recorded stays "recorded" for later."""
        self._ending = False
        """The person ended the session: the answer so far is graded, then the summary."""
        self._deferred = 0
        """Rapid rounds: answers handed to the background grader..."""
        self._graded_behind = 0
        """...and how many of them came back (graded or failed)."""

    @property
    def rapid(self) -> bool:
        return self.config.mode == "rapid"

    def compose(self) -> ComposeResult:
        with Horizontal(id="iv-top"):
            yield Label("", id="iv-progress")
            yield Label("", id="iv-bg")
            yield Countdown(self.app.deps.clock, id="iv-clock")
        with VerticalScroll(id="iv-body"):
            yield Static("", id="iv-question")
            yield Label("", id="iv-state")
            yield LevelMeter(id="iv-level")
            yield TranscriptView("", id="iv-transcript")
            yield TextArea("", id="iv-typed", soft_wrap=True)
        with Horizontal(id="iv-load"):
            yield Label("", id="iv-load-step")
            yield ProgressBar(total=1.0, show_eta=False, id="iv-load-bar")
        with Horizontal(id="iv-wait"):
            yield Label("", id="iv-wait-step")
            yield ProgressBar(total=1.0, show_eta=False, id="iv-wait-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#iv-typed", TextArea).display = False
        self.query_one("#iv-level", LevelMeter).display = False
        self.query_one("#iv-bg", Label).display = False
        self.query_one("#iv-wait").display = False
        self._show_load()
        self.watch_state(self.state)
        self.begin()

    def worker_failed(self, worker: Worker) -> None:
        """A failed step leaves the turn recoverable (skip or type)."""
        if worker.group.startswith("iv-"):
            self.query_one(Countdown).stop()
            self.state = UiState.FAILED

    def on_unmount(self) -> None:
        """Leaving (or quitting the app) mid-answer keeps the audio recorded."""
        self._quitting = True
        self._cancel_speech.set()
        self._stop.set()
        if self.state is UiState.WAITING:
            self._stop_waiting()  # quitting: ungraded answers stay recoverable

    def watch_state(self, state: UiState) -> None:
        if not self.is_mounted:
            return  # on_mount shows the first state
        label = state.label
        if self.followup_position and state in _FOLLOWUP_LABELS:
            label = _FOLLOWUP_LABELS[state]
        self.query_one("#iv-state", Label).update(label)
        self.query_one("#iv-level", LevelMeter).display = state is UiState.LISTENING

    def _show_load(self) -> None:
        ps = self.app.ports_state
        box = self.query_one("#iv-load")
        box.display = not ps.ready.is_set()
        self.query_one("#iv-load-step", Label).update(ps.step)
        self.query_one("#iv-load-bar", ProgressBar).update(progress=ps.fraction)

    def on_load_progressed(self, message: LoadProgressed) -> None:
        self._show_load()

    def on_models_loaded(self) -> None:
        self._show_load()

    # -- workers (engine steps off the UI thread) -----------------------------------
    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def begin(self) -> None:
        ps = self.app.ports_state
        if not ps.ready.is_set():
            self.app.call_from_thread(setattr, self, "state", UiState.LOADING)
            while not ps.ready.wait(0.2):
                if self._quitting:
                    return  # left before the speech parts were ready: no session
        with self._lock:
            loaded = ps.loaded
            ports = loaded.ports if loaded is not None else None
            try:
                engine = self.app.deps.engine_factory(self.config, ports)
                # rapid rounds defer every answer; any session defers the one
                # it was ended in
                engine.on_graded = self._graded_behind_the_scenes
                self.engine = engine
                info = engine.start()
            except Exception as exc:  # nothing due, no matching question, store error
                self.post_message(SessionFailed(one_line(exc)))
                return
            self.post_message(SessionStarted(info.id, len(engine.questions)))
            self._advance()

    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def advance(self) -> None:
        with self._lock:
            self._advance()

    def _engine(self) -> SessionEngine:
        """The session's engine (on a worker, after ``begin`` built it)."""
        assert self.engine is not None, "no engine before begin()"
        return self.engine

    def _advance(self) -> None:
        engine = self._engine()
        question = engine.next_question()
        if question is None:
            self._announce_wait()
            self.post_message(SessionFinished(engine.finish()))
            return
        limit = self.config.time_limit_s
        self.post_message(QuestionAsked(engine.index, len(engine.questions), question, limit))
        self._speak(question)

    def _speak(self, question: Question) -> None:
        from interviewer.session.errors import IllegalTransition

        self._cancel_speech.clear()
        try:
            notice = self._engine().ask(self._cancel_speech)  # None when spoken or speech is off
        except IllegalTransition:
            return  # the answer began (space) before the voice did: nothing to read
        self.post_message(QuestionSpoken(question.id, notice))

    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def repeat(self, question: Question) -> None:
        with self._lock:
            self._speak(question)

    @work(thread=True, exclusive=True, group="iv-answer", exit_on_error=False)
    def listen(self) -> None:
        with self._lock:
            if self._start_recording():
                self._record_and_grade()

    @work(thread=True, group="iv-interrupt", exit_on_error=False)
    def listen_now(self) -> None:
        """Space while the question (or a probe) is read: the recorder starts
        at once, while the voice still speaks, so no word said over its end
        is lost; then the voice is stopped. The speaking step returns as soon
        as it stops, and the rest of the answer runs under the lock as usual."""
        started = self._start_recording()
        self._cancel_speech.set()
        if started:
            with self._lock:
                self._record_and_grade()

    def _start_recording(self) -> bool:
        """On a worker: start the answer's recording; False without a microphone."""
        from audio.errors import NoMicrophone

        engine = self._engine()
        self._stop.clear()
        try:
            attempt = engine.start_answer(
                on_level=lambda level: self.post_message(LevelChanged(level))
            )
        except NoMicrophone as exc:
            self.post_message(MicrophoneMissing(str(exc)))
            return False
        self.post_message(AnswerStarted(attempt.id))
        return True

    def _record_and_grade(self) -> None:
        """On a worker holding the lock: wait for the answer to end, then
        transcribe and grade it (rapid rounds: hand it on)."""
        engine = self._engine()
        question = engine.current
        assert question is not None  # start_answer raised without one
        shown = ""
        while not self._stop.is_set():
            if engine.answer_ended(0.1) or self._stop.wait(0.02):
                break  # the short wait keeps a recorder that never blocks from spinning
            shown = self._post_partial(question, shown)
        if self._skip_requested:
            self._skipped_followup = self._skip_locked()
            return
        recording = engine.stop_answer()
        if self._quitting:
            return  # kept as "recorded": offered for transcription next time
        if self._ending:
            return  # ``finish`` grades it with the session's end
        self.post_message(
            AnswerRecorded(
                question.id,
                recording.duration_s,
                recording.stopped_by,
                recording.speech_detected,
                recording.error,
            )
        )
        if self.rapid:
            # graded in the background while the next question is asked
            attempt_id = engine.defer_answer()
            self.post_message(AnswerDeferred(question.id, attempt_id))
            self._advance()
            return
        transcript = engine.transcribe()
        self.post_message(TranscriptReady(question.id, transcript.text, transcript.elapsed_s))
        if self._ending:
            return  # ``finish`` grades it with the session's end
        engine.grade()
        self._next_turn()

    def _post_partial(self, question: Question, shown: str) -> str:
        """On the listening worker: post what the recogniser has heard so far
        when it grew (the engine transcribes while the person speaks)."""
        text = self._engine().partial_transcript()
        if text and text != shown:
            self.post_message(TranscriptUpdated(question.id, text))
            return text
        return shown

    @work(thread=True, exclusive=True, group="iv-answer", exit_on_error=False)
    def submit(self, text: str) -> None:
        with self._lock:
            self._engine().submit_typed(text)
            self._next_turn()

    def _next_turn(self) -> None:
        """On a worker, once the answer or a follow-up's reply is graded (or a
        follow-up skipped): ask the next follow-up, or show the feedback."""
        engine = self._engine()
        question = engine.current
        assert question is not None
        probe = None if self._ending or self._quitting else engine.followup_offer()
        if probe is None:
            self.post_message(self._scored(question))
            return
        engine.begin_followup()
        self.post_message(FollowUpAsked(question.id, probe))
        self._speak(question)  # the engine reads the probe

    def _announce_wait(self) -> None:
        """On a worker: the summary is about to wait for background grades."""
        engine = self._engine()
        pending = engine.pending()
        if pending:
            self.post_message(RoundGrading(pending, len(engine.questions)))

    def _graded_behind_the_scenes(self, graded: GradedAnswer) -> None:
        """The engine's background worker finished an answer (its thread)."""
        result = graded.result
        if graded.error is not None or graded.assessment is None:
            self.post_message(GradingFailed(
                result.question_id, result.attempt_id,
                graded.error or "that answer could not be graded",
            ))
            return
        attempt = graded.attempt
        self.post_message(AnswerScored(
            result.question_id,
            graded.transcript,
            graded.assessment,
            attempt_id=result.attempt_id,
            answer_time_s=result.answer_time_s,
            delivery=attempt.delivery if attempt is not None else None,
            background=True,
        ))

    def _scored(self, question: Question) -> AnswerScored:
        """The graded answer (with its follow-ups) for the feedback screen."""
        engine = self._engine()
        attempt, assessment = engine.attempt, engine.assessment
        assert attempt is not None and assessment is not None
        grade = engine.question_grade()
        return AnswerScored(
            question.id,
            attempt.transcript or "",
            assessment,
            attempt_id=attempt.id,
            typed=attempt.typed,
            answer_time_s=attempt.answer_time_s,
            delivery=attempt.delivery,
            grade=grade if grade is not None and grade.followups else None,
        )

    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def skip(self) -> None:
        with self._lock:
            self._after_skip(self._skip_locked())

    def _skip_locked(self) -> bool:
        """Skip the question or the follow-up; True when it was a follow-up."""
        engine = self._engine()
        question = engine.current
        followup = engine.followup is not None
        engine.skip()
        self._skip_requested = False
        if question is not None:
            self.post_message(AnswerSkipped(question.id))
        return followup

    def _after_skip(self, followup: bool) -> None:
        """A skipped follow-up costs nothing: on to the next one or the
        feedback; a skipped question: on to the next question."""
        if followup:
            self._next_turn()
        else:
            self._advance()

    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def finish(self) -> None:
        """End the session now: the answer so far is graded (waiting for
        it, with the others still in the background), then the summary."""
        with self._lock:
            engine = self.engine
            if engine is None or engine.session is None:
                self.app.call_from_thread(self.dismiss, None)
                return
            question = engine.current
            kept = engine.keep_answer()
            if kept is not None and question is not None:
                self.post_message(AnswerDeferred(question.id, kept))
            self._announce_wait()
            self.post_message(SessionFinished(engine.finish()))

    # -- rendering the messages ---------------------------------------------------
    def on_session_failed(self, message: SessionFailed) -> None:
        self.notify(message.notice, severity="warning", timeout=8)
        self.dismiss(None)

    def on_session_started(self, message: SessionStarted) -> None:
        self.total = message.count
        self._show_load()

    def on_question_asked(self, message: QuestionAsked) -> None:
        self.question = message.question
        mode = {"rapid": "Rapid-fire", "review": "Review"}.get(self.config.mode, "Practice")
        self._progress = f"{mode} · question {message.index + 1} of {message.total}"
        self.query_one("#iv-progress", Label).update(self._progress)
        self.followup_position = 0
        from rich.markup import escape

        self._show_prompt(f"[b]{escape(message.prompt)}[/b]")

    def on_follow_up_asked(self, message: FollowUpAsked) -> None:
        if self.question is None:
            return
        from rich.markup import escape

        probe = message.probe
        self.followup_position = probe.position
        self.query_one("#iv-progress", Label).update(
            f"{self._progress} · follow-up {probe.position}"
        )
        self._show_prompt(
            f"[dim]{escape(self.question.prompt)}[/dim]\n\n"
            f"[b]Follow-up:[/b] [b]{escape(probe.prompt)}[/b]"
        )

    def _show_prompt(self, markup: str) -> None:
        """A new question or follow-up: shown, the last reply cleared, read aloud next."""
        self.query_one("#iv-question", Static).update(markup)
        self.query_one("#iv-transcript", TranscriptView).update("")
        typed = self.query_one("#iv-typed", TextArea)
        typed.text = ""
        typed.display = False
        self.query_one(Countdown).stop()
        self.state = UiState.SPEAKING

    def on_question_spoken(self, message: QuestionSpoken) -> None:
        if self._ending:
            return
        if message.notice and not self.forced_typed:
            self.notify(message.notice, severity="warning", timeout=5)
        if self.state is not UiState.SPEAKING:
            return  # interrupted: already answering (space) or typing (t)
        self.state = UiState.READY
        if self.typed:
            self._open_typed()
        elif self.rapid:
            self.action_toggle_answer()

    def on_answer_started(self, message: AnswerStarted) -> None:
        self.state = UiState.LISTENING
        self.query_one(Countdown).start(self.config.time_limit_s)

    def on_microphone_missing(self, message: MicrophoneMissing) -> None:
        self.notify(message.notice, severity="warning", timeout=6)
        self.typed = True
        self._open_typed()

    def on_level_changed(self, message: LevelChanged) -> None:
        self.query_one(LevelMeter).level = message.level

    def on_answer_recorded(self, message: AnswerRecorded) -> None:
        self.query_one(Countdown).stop()
        if message.error:
            self.notify(message.error, severity="warning", timeout=6)
        self.state = UiState.TRANSCRIBING

    def on_transcript_updated(self, message: TranscriptUpdated) -> None:
        if self.question is None or self.question.id != message.question_id:
            return  # a late update of an answer already handed on
        if self.state not in (UiState.LISTENING, UiState.TRANSCRIBING):
            return
        from rich.text import Text

        self.query_one("#iv-transcript", TranscriptView).update(
            Text(message.text + " …", style="dim")
        )

    def on_transcript_ready(self, message: TranscriptReady) -> None:
        self.query_one("#iv-transcript", TranscriptView).show(message.text)
        self.state = UiState.GRADING

    def on_answer_skipped(self, message: AnswerSkipped) -> None:
        self.query_one(Countdown).stop()

    def on_answer_deferred(self, message: AnswerDeferred) -> None:
        self._deferred += 1
        self._show_background()

    def on_grading_failed(self, message: GradingFailed) -> None:
        self._graded_behind += 1
        self._show_background()
        self.notify(f"{message.notice} (the answer is kept for recovery)",
                    severity="warning", timeout=6)

    def on_round_grading(self, message: RoundGrading) -> None:
        self.query_one(Countdown).stop()
        self.state = UiState.WAITING
        self.query_one("#iv-wait").display = True
        self._show_background()

    def _show_background(self) -> None:
        """The top-bar count of answers still being graded, and the progress
        bar while the summary waits for them."""
        behind = max(0, self._deferred - self._graded_behind)
        label = self.query_one("#iv-bg", Label)
        label.display = behind > 0
        label.update(f"⧗ grading {behind} in the background " if behind else "")
        done = self._deferred - behind
        self.query_one("#iv-wait-step", Label).update(
            f"grading answers: {done} of {self._deferred} done"
        )
        self.query_one("#iv-wait-bar", ProgressBar).update(
            progress=done / self._deferred if self._deferred else 1.0
        )

    def on_answer_scored(self, message: AnswerScored) -> None:
        if message.background:
            self.results.append(message)
            self._graded_behind += 1
            self._show_background()
            return
        self.query_one(Countdown).stop()
        self.results.append(message)
        if self._ending:
            return  # the summary follows
        if self.rapid:
            percent = message.assessment.percent
            self.notify(f"{'—' if percent is None else percent}/100", timeout=2)
            self.advance()
            return
        from interviewer.tui.screens.feedback import FeedbackScreen

        self.app.push_screen(
            FeedbackScreen(self.question, message, regrade=self._regrade, say=self._say_aloud),
            self._after_feedback,
        )

    def _regrade(self, text: str) -> tuple[Assessment, QuestionGrade | None]:
        """A corrected transcript graded again, with its follow-ups recombined."""
        with self._lock:
            engine = self._engine()
            assessment = engine.grade(text)
            grade = engine.question_grade()
            return assessment, grade if grade is not None and grade.followups else None

    def _say_aloud(self, text: str, cancel: threading.Event) -> str | None:
        """For the feedback screen: read ``text`` with the session's voice."""
        return self._engine().say(text, cancel)

    def _after_feedback(self, choice: str | None) -> None:
        if choice == "retry":
            # the engine moves only forward: a retry is a one-question session
            retry = SessionConfig(
                mode="practice",
                bank=self.config.bank,
                count=1,
                question_ids=(self.question.id,),
                time_limit_s=self.config.time_limit_s,
            )
            self.app.push_screen(
                InterviewScreen(retry, typed=self.typed, single=True),
                lambda _: self.advance(),
            )
        elif choice == "end":
            self._ending = True
            self.finish()
        else:
            self.advance()

    def on_session_finished(self, message: SessionFinished) -> None:
        self.state = UiState.FINISHED
        if self.single:
            self.dismiss(None)
            return
        from interviewer.tui.screens.summary import SummaryScreen

        self.app.switch_screen(SummaryScreen(message.summary, list(self.results), self.rapid))

    # -- keys ----------------------------------------------------------------------
    def _open_typed(self) -> None:
        typed = self.query_one("#iv-typed", TextArea)
        typed.display = True
        typed.focus()
        self.state = UiState.TYPING
        self.query_one(Countdown).start(self.config.time_limit_s)

    def action_toggle_answer(self) -> None:
        if self._ending:
            return
        if self.state is UiState.READY:
            self.state = UiState.STARTING
            self.listen()
        elif self.state is UiState.SPEAKING and not self.typed:
            self.state = UiState.STARTING  # interrupt the interviewer: record at once
            self.listen_now()
        elif self.state is UiState.LISTENING:
            self._stop.set()

    def action_type_answer(self) -> None:
        if self.state in (UiState.READY, UiState.SPEAKING, UiState.FAILED):
            self._cancel_speech.set()
            self._open_typed()

    def action_submit_typed(self) -> None:
        if self.state is not UiState.TYPING:
            return
        text = self.query_one("#iv-typed", TextArea).text
        if not text.strip() and self.followup_position:
            self._cancel_speech.set()  # an empty reply skips the follow-up, at no cost
            self.query_one("#iv-typed", TextArea).display = False
            self.state = UiState.STARTING
            self.skip()
            return
        if not text.strip():
            self.notify("Type an answer first (or s to skip).", timeout=3)
            return
        self.query_one("#iv-typed", TextArea).display = False
        self.state = UiState.GRADING
        self.submit(text)

    def action_skip(self) -> None:
        if self.state is UiState.LISTENING:
            self._skip_requested = True
            self._stop.set()
            self.advance_after_skip()
        elif self.state in (UiState.READY, UiState.SPEAKING, UiState.TYPING, UiState.FAILED):
            self._cancel_speech.set()
            self.state = UiState.STARTING
            self.skip()

    @work(thread=True, exclusive=True, group="iv-engine", exit_on_error=False)
    def advance_after_skip(self) -> None:
        with self._lock:  # the listening worker skips, then releases the lock
            self._after_skip(self._skipped_followup)

    def action_repeat(self) -> None:
        if self.state in (UiState.READY, UiState.TYPING) and self.question is not None:
            self.state = UiState.SPEAKING
            self.repeat(self.question)

    @on(Countdown.Expired)
    def _time_up(self) -> None:
        if self.state is UiState.LISTENING:
            self._stop.set()
        elif self.state is UiState.TYPING:
            text = self.query_one("#iv-typed", TextArea).text
            if text.strip():
                self.query_one("#iv-typed", TextArea).display = False
                self.state = UiState.GRADING
                self.submit(text)
            else:
                self.state = UiState.STARTING
                self.skip()

    def _stop_waiting(self) -> None:
        """Stop waiting for background grades: the summary comes as soon as
        the answer being transcribed is done; the rest stay "recorded" and
        are offered for recovery."""
        if self.engine is not None:
            self.engine.cancel_background()

    def action_leave(self) -> None:
        from interviewer.tui.screens.dialogs import ConfirmDialog

        if self.state is UiState.WAITING:
            self.notify("The summary follows the answer being graded now; the others "
                        "are kept for recovery.", timeout=5)
            self._stop_waiting()
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._ending = True  # the answer so far is graded, then the summary
                self._cancel_speech.set()
                self._stop.set()
                self.query_one(Countdown).stop()
                self.state = UiState.WAITING
                self.finish()

        self.app.push_screen(
            ConfirmDialog("End this session? What you said so far is graded and kept."), done
        )

