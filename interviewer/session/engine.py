"""The headless session engine: one practice, rapid-fire or review session
as a state machine over plain values (never imports textual).

Every step runs synchronously; the TUI calls the slow ones from thread
workers, tests call them directly. The engine decides *when* a step is
legal; what a step does to an answer lives in ``answers`` (transcribe,
delivery, grade, record), ``live`` (transcribing while the person speaks),
``rapid`` (grading rapid-round answers in the background) and ``summary``.

Phases (``Phase``) and the legal moves between them::

    IDLE -> ASKING -> LISTENING -> TRANSCRIBING -> GRADING -> FEEDBACK -> ASKING ... -> DONE
    LISTENING/TRANSCRIBING -> FEEDBACK     (defer: graded in the background)
    ASKING/LISTENING -> GRADING -> FEEDBACK   (typed answer)
    ASKING/LISTENING/TRANSCRIBING/GRADING -> FEEDBACK   (skip)
    FEEDBACK -> GRADING -> FEEDBACK        (re-grade a corrected transcript)
    any -> DONE                            (finish)

Anything else raises ``IllegalTransition`` naming the phase and what is allowed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audio.errors import AudioError, NoMicrophone
from audio.results import Recording, Transcript
from interviewer.config import Settings
from interviewer.session import answers
from interviewer.session.errors import IllegalTransition, NothingDue, SessionError
from interviewer.session.live import LiveTranscription
from interviewer.session.model import Attempt, Phase, SessionConfig, SessionInfo
from interviewer.session.ports import Ports
from interviewer.session.rapid import BackgroundGrader, DeferredAnswer, GradedAnswer
from interviewer.session.recovery import interrupted_attempts, recover_attempt
from interviewer.session.scheduler import ReviewScheduler
from interviewer.session.selection import SelectionError, select_questions
from interviewer.session.store import Store, utc_now
from interviewer.session.summary import SessionSummary, close_session, config_key
from questions.assessment import Assessment
from questions.model import Bank, Question

if TYPE_CHECKING:
    from audio.incremental import IncrementalTranscriber

DRAIN_TIMEOUT_S = 300.0
"""How long ``finish()`` waits for answers still being graded in the background."""

_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.ASKING, Phase.DONE}),
    Phase.ASKING: frozenset({Phase.LISTENING, Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.LISTENING: frozenset({Phase.TRANSCRIBING, Phase.FEEDBACK, Phase.DONE}),
    Phase.TRANSCRIBING: frozenset({Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.GRADING: frozenset({Phase.FEEDBACK, Phase.DONE}),
    Phase.FEEDBACK: frozenset({Phase.ASKING, Phase.GRADING, Phase.DONE}),
    Phase.DONE: frozenset({Phase.DONE}),
}


class SessionEngine:
    """One practice, rapid-fire or review session over ``bank``."""

    def __init__(
        self,
        bank: Bank,
        store: Store,
        ports: Ports,
        settings: Settings | None = None,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = utc_now,
        scheduler: ReviewScheduler | None = None,
        incremental: bool = True,
    ) -> None:
        self.bank = bank
        self.store = store
        self.ports = ports
        self.settings = settings or Settings()
        self.config = config or SessionConfig(bank=bank.name)
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(self.config.seed)
        self.now = now
        self.scheduler = scheduler or ReviewScheduler(store, bank.name, now=now)
        self.time_limit_s = self.config.time_limit_s
        """The hard limit per answer (rapid rounds: by default the settings')."""
        if self.time_limit_s is None and self.config.mode == "rapid":
            self.time_limit_s = self.settings.rapid_answer_s
        self.questions: list[Question] = []
        """The questions chosen by ``start()``, in the order they are asked."""
        self.phase = Phase.IDLE
        self.index = -1
        self.session: SessionInfo | None = None
        self.attempt: Attempt | None = None
        """The current question's attempt, as last stored."""
        self.recording: Recording | None = None
        self.assessment: Assessment | None = None
        """The last grade of the current answer."""
        self.on_graded: Callable[[GradedAnswer], None] | None = None
        """Rapid rounds: called on the background worker's thread for each
        deferred answer (set it before the first ``defer_answer``)."""
        self._reviewed: set[int] = set()
        self._answer_started: float | None = None
        self._attempts: dict[str, int] = {}
        self._summary: SessionSummary | None = None
        self._lock = threading.RLock()
        self._review_lock = threading.Lock()
        """Serialises spaced-repetition reviews (the UI and the background worker)."""
        self._background: BackgroundGrader | None = None
        self._live = LiveTranscription(ports.recorder, ports.transcriber, enabled=incremental)
        """Transcribes while the person speaks (``incremental``); else the
        answer is transcribed after it ends."""

    # -- state machine ------------------------------------------------------------

    def _require(self, action: str, *phases: Phase, target: Phase | None = None) -> None:
        """Raise unless the phase is one of ``phases`` (and may move to ``target``)."""
        if self.phase not in phases or (target is not None and target not in _ALLOWED[self.phase]):
            expected = " or ".join(p.value for p in phases)
            raise IllegalTransition(
                f"cannot {action} while {self.phase.value} (allowed when {expected})"
            )

    def _move(self, target: Phase, action: str, *, allowed_from: tuple[Phase, ...]) -> None:
        self._require(action, *allowed_from, target=target)
        self.phase = target

    @property
    def current(self) -> Question | None:
        if 0 <= self.index < len(self.questions) and self.phase != Phase.DONE:
            return self.questions[self.index]
        return None

    def _question(self) -> Question:
        q = self.current
        if q is None:
            raise IllegalTransition("no current question; call next_question() first")
        return q

    # -- the session ----------------------------------------------------------------

    def start(self) -> SessionInfo:
        """Choose the questions and create the session row."""
        with self._lock:
            if self.session is not None:
                raise IllegalTransition("the session has already started")
            self._require("start", Phase.IDLE)
            cfg = self.config
            due: list[str] = []
            if cfg.mode == "review" or cfg.order == "due":
                due = self.scheduler.due_questions(self.now())
            scores = self.store.recent_scores(bank=self.bank.name) if cfg.order == "weakest" else {}
            try:
                self.questions = select_questions(
                    self.bank, cfg, self.rng, due=due, recent_scores=scores
                )
            except SelectionError as exc:
                raise SessionError(str(exc)) from None
            if not self.questions:
                nxt = self.scheduler.next_due()
                when = f"; the next is due {nxt:%Y-%m-%d %H:%M} UTC" if nxt else ""
                raise NothingDue(f"no question of bank {self.bank.name!r} is due for review{when}")
            info = asdict(cfg)
            info["key"] = config_key(cfg)
            info["questions"] = [q.id for q in self.questions]
            self.session = self.store.create_session(cfg.mode, self.bank.name, info)
            return self.session

    def next_question(self) -> Question | None:
        """Move to the next question (phase ASKING), or to DONE after the last."""
        with self._lock:
            if self.session is None:
                raise IllegalTransition("cannot move to the next question before start()")
            self._require("move to the next question", Phase.IDLE, Phase.FEEDBACK)
            self._live.cancel()
            self.index += 1
            self.attempt = None
            self.recording = None
            self.assessment = None
            if self.index >= len(self.questions):
                self.index = len(self.questions)
                self.phase = Phase.DONE
                return None
            self._move(Phase.ASKING, "ask", allowed_from=(Phase.IDLE, Phase.FEEDBACK))
            self._answer_started = self.clock()
            return self.questions[self.index]

    def ask(self, cancel: threading.Event | None = None) -> str | None:
        """Read the question aloud. Returns a one-line notice (and shows the
        question instead) when speech is unavailable; None when it was
        spoken or speech is turned off."""
        self._require("ask", Phase.ASKING)
        q = self._question()
        notice: str | None = None
        if self.settings.speak_questions:
            if self.ports.speaker is None:
                notice = "speech output is unavailable: read the question on screen"
            else:
                try:
                    self.ports.speaker.speak(q.spoken_text, cancel)
                except AudioError as exc:
                    notice = str(exc) or "speech output is unavailable: read the question on screen"
        with self._lock:
            if self.phase == Phase.ASKING and self.attempt is None:
                self._answer_started = self.clock()  # the answer's time starts after the question
        return notice

    def start_answer(self, on_level: Callable[[float], None] | None = None) -> Attempt:
        """Create the attempt row (state "recording") before audio starts,
        then start recording (phase LISTENING). Raises ``NoMicrophone``
        without a recorder: the caller offers typing."""
        with self._lock:
            self._require("start an answer", Phase.ASKING)
            q = self._question()
            recorder = self.ports.recorder
            if recorder is None:
                raise NoMicrophone("no microphone is available: type your answer instead")
            attempt = self.store.begin_attempt(
                q.id, session_id=self._session_id, bank=self.bank.name, extra={"mode": self.config.mode}
            )
            self.attempt = attempt
            self._attempts[q.id] = attempt.id
            assert attempt.audio_path is not None
            self._live.start(attempt.id, q.recogniser_hint())
            try:
                recorder.start(Path(attempt.audio_path), on_level)
            except AudioError as exc:
                self._live.cancel()
                self.store.update_attempt(attempt.id, state="failed", error=str(exc))
                self._attempts.pop(q.id, None)
                self.attempt = None
                raise
            self._move(Phase.LISTENING, "start an answer", allowed_from=(Phase.ASKING,))
            self._answer_started = self.clock()
            return self.attempt

    def partial_transcript(self) -> str:
        """The text recognised so far of the answer being recorded (grows a
        stretch at a time while the person speaks); "" when nothing is
        recognised yet or the answer is transcribed only after it ends.
        Safe to call from any thread."""
        return self._live.text_so_far()

    @property
    def live_transcriber(self) -> IncrementalTranscriber | None:
        """The live transcriber of the current answer, or None."""
        return self._live.transcriber

    def answer_ended(self, timeout: float | None = None) -> bool:
        """True when the answer is over by itself: the recorder stopped
        (silence, its limit, device lost) or a rapid round's time is up.
        Never sleeps longer than ``timeout`` (the recorder's wait)."""
        if self.phase != Phase.LISTENING or self.ports.recorder is None:
            return self.phase != Phase.LISTENING
        left = self.remaining_s()
        if left is not None and left <= 0:
            return True
        wait = timeout if left is None else (left if timeout is None else min(timeout, left))
        if self.ports.recorder.wait(wait):
            return True
        left = self.remaining_s()
        return left is not None and left <= 0

    def stop_answer(self) -> Recording:
        """Stop recording (state "recorded"); phase TRANSCRIBING."""
        with self._lock:
            self._require("stop the answer", Phase.LISTENING)
            assert self.attempt is not None and self.ports.recorder is not None
            elapsed = self._elapsed()
            try:
                rec = self.ports.recorder.stop()
            except AudioError as exc:
                self._live.cancel()
                self.attempt = self.store.update_attempt(self.attempt.id, state="recorded", error=str(exc))
                self.phase = Phase.FEEDBACK
                raise
            self._live.detach()
            if not rec.speech_detected:
                self._live.cancel()  # nothing to transcribe
            timed_out, answer_time = self._answer_time(elapsed)
            self.attempt = answers.store_recording(
                self.store, self.attempt, rec, timed_out=timed_out, answer_time_s=answer_time
            )
            self.recording = rec
            self._move(Phase.TRANSCRIBING, "stop the answer", allowed_from=(Phase.LISTENING,))
            return rec

    def transcribe(self) -> Transcript:
        """Transcribe the recorded answer (state "transcribed"); phase
        GRADING. No speech gives an empty transcript and no grade."""
        with self._lock:
            self._require("transcribe", Phase.TRANSCRIBING)
            q = self._question()
            assert self.attempt is not None and self.recording is not None
            live = self._live.hand_over(self.attempt.id)
            recording = self.recording
        done = answers.transcribe_answer(self.ports.transcriber, q, recording, live)
        with self._lock:
            if self.phase != Phase.TRANSCRIBING or self.attempt is None:
                # skipped or finished meanwhile: keep the text, not the state change
                if self.attempt is not None:
                    self.attempt = self.store.update_attempt(
                        self.attempt.id, transcript=done.transcript.text, delivery=done.delivery
                    )
                return done.transcript
            self.attempt = answers.store_transcript(self.store, self.attempt, done)
            self._move(Phase.GRADING, "transcribe", allowed_from=(Phase.TRANSCRIBING,))
            return done.transcript

    def grade(self, text: str | None = None) -> Assessment:
        """Grade the transcript, or ``text`` when given (a hand correction);
        phase FEEDBACK. Calling it again in FEEDBACK re-grades (the earlier
        grade is kept in the attempt's history). No speech is never graded."""
        self._require("grade", Phase.GRADING, Phase.FEEDBACK)
        q = self._question()
        attempt = self.attempt
        if attempt is None:
            raise IllegalTransition("there is no answer to grade")
        if self._background is not None and attempt.id in self._background.deferred:
            raise IllegalTransition("this answer is being graded in the background")
        was = self.phase
        self.phase = Phase.GRADING
        try:
            graded, assessment = answers.grade_and_record(
                self.store, q, attempt, self.ports.grader, text=text
            )
        except BaseException:
            self.phase = was
            raise
        self.attempt, self.assessment = graded, assessment
        self._review(q, attempt.id, assessment)
        self.phase = Phase.FEEDBACK
        return assessment

    def _review(self, q: Question, attempt_id: int, assessment: Assessment) -> None:
        """Record the spaced-repetition review once per attempt (any thread)."""
        with self._review_lock:
            if attempt_id in self._reviewed or assessment.score is None:
                return
            self._reviewed.add(attempt_id)
            self.scheduler.record(q.id, assessment.score, attempt_id=attempt_id, when=self.now())

    def submit_typed(self, text: str) -> Assessment:
        """Answer by typing (no microphone, or by choice): creates the attempt
        and grades it; phase FEEDBACK. While listening, the recording is
        stopped and kept as a "skipped" attempt."""
        with self._lock:
            self._require("submit a typed answer", Phase.ASKING, Phase.LISTENING)
            q = self._question()
            if self.phase == Phase.LISTENING:
                self._close_open_attempt("skipped")
                self.phase = Phase.ASKING
            timed_out, answer_time = self._answer_time(self._elapsed())
            self.attempt = answers.store_typed(
                self.store, q.id, text, session_id=self._session_id, bank=self.bank.name,
                mode=self.config.mode, timed_out=timed_out, answer_time_s=answer_time,
            )
            self._attempts[q.id] = self.attempt.id
            self._move(Phase.GRADING, "submit a typed answer", allowed_from=(Phase.ASKING,))
        return self.grade()

    def skip(self) -> None:
        """Give up this question: an open attempt becomes "skipped" (its audio
        is kept); phase FEEDBACK, then ``next_question()``."""
        with self._lock:
            self._require("skip", Phase.ASKING, Phase.LISTENING, Phase.TRANSCRIBING, Phase.GRADING)
            self._close_open_attempt("skipped")
            self.phase = Phase.FEEDBACK

    def remaining_s(self) -> float | None:
        """Seconds left for this answer in a timed round; None otherwise."""
        limit = self.time_limit_s
        if limit is None or self._answer_started is None:
            return None
        if self.phase not in (Phase.ASKING, Phase.LISTENING):
            return None
        return max(0.0, limit - self._elapsed())

    def keep_answer(self) -> int | None:
        """Ending the session mid-answer keeps what was said: an answer being
        recorded is stopped, one recorded but not transcribed yet is handed
        to the background grader (``finish()`` waits for it), one
        transcribed but not graded is graded. Returns
        the attempt id handed over, or None (no answer open, or no speech in
        it: stored as such at once). Call it when no
        other step of this answer is running (the TUI's lock sees to that);
        ``finish()`` calls it too."""
        with self._lock:
            if self.phase == Phase.GRADING and self.attempt is not None:
                self.grade()  # transcribed, not graded yet
                return None
            if self.phase not in (Phase.LISTENING, Phase.TRANSCRIBING) or self.attempt is None:
                return None
            if self.phase == Phase.LISTENING:
                try:
                    self.stop_answer()
                except AudioError:
                    return None  # kept "recorded" with the error; offered for recovery
            if self.recording is not None and not self.recording.speech_detected:
                self.transcribe()  # no speech: stored as such without the recogniser
                self.grade()
                return None
            return self.defer_answer()

    def finish(self, wait_s: float | None = None) -> SessionSummary:
        """End the session (any phase) and summarise the questions answered.
        An answer being recorded or waiting to be transcribed is kept and
        graded (``keep_answer``); a question still being asked, with no
        answer yet, is left out of the summary. Answers deferred to the
        background are waited for (at most ``wait_s`` seconds,
        ``DRAIN_TIMEOUT_S`` by default); those not graded by then stay
        "recorded", are offered by ``recover_interrupted`` and are listed in
        ``SessionSummary.ungraded``."""
        with self._lock:
            if self._summary is not None:
                return self._summary
            if self.session is None:
                raise IllegalTransition("cannot finish a session that never started")
            self.keep_answer()
            asked_only = self.phase == Phase.ASKING and self.attempt is None
            if self.phase == Phase.ASKING:
                self._close_open_attempt("skipped")
            self._live.cancel()
            self.phase = Phase.DONE
        ungraded: tuple[int, ...] = ()
        if self._background is not None:
            # outside the lock: the worker never needs it, callers may ask pending()
            ungraded = self._background.finish(DRAIN_TIMEOUT_S if wait_s is None else wait_s)
        with self._lock:
            if self._summary is None:
                assert self.session is not None
                reached = self.questions[: min(len(self.questions), self.index + 1)]
                if asked_only and reached:
                    reached = reached[:-1]  # asked, never answered: not part of the result
                self._summary = close_session(
                    self.store, self.scheduler, self.session, self.config, reached,
                    self._attempts, ungraded=ungraded,
                )
            return self._summary

    # -- background grading (rapid rounds) --------------------------------------------

    def defer_answer(self) -> int:
        """Hand the current answer to the background grader and move on:
        stops the recorder if it still runs (state "recorded"), queues the
        attempt, and moves to FEEDBACK so ``next_question()`` is legal at
        once. Returns the attempt id. The next answer's clock is not
        touched: it starts when the next question is asked."""
        with self._lock:
            self._require("hand off the answer", Phase.LISTENING, Phase.TRANSCRIBING)
            if self.phase == Phase.LISTENING:
                self.stop_answer()
            q = self._question()
            assert self.attempt is not None
            attempt_id = self.attempt.id
            live = self._live.hand_over(attempt_id)
            if self._background is None:
                self._background = BackgroundGrader(
                    self.store, self.ports, self._review, self._notify_graded
                )
            self._background.submit(DeferredAnswer(q, attempt_id, self.recording, live))
            self._move(Phase.FEEDBACK, "hand off the answer", allowed_from=(Phase.TRANSCRIBING,))
            return attempt_id

    def cancel_background(self) -> list[int]:
        """Stop grading deferred answers not started yet (they stay "recorded",
        offered for recovery; a waiting ``finish()`` returns once the answer
        being graded is done). Returns the attempt ids left ungraded."""
        background = self._background
        return [] if background is None else background.cancel()

    def pending(self) -> int:
        """Deferred answers not graded yet."""
        background = self._background
        return 0 if background is None else background.pending()

    def _notify_graded(self, graded: GradedAnswer) -> None:
        listener = self.on_graded
        if listener is not None:
            listener(graded)

    # -- recovery -----------------------------------------------------------------------

    def recover_interrupted(self) -> list[Attempt]:
        """Attempts of this bank a crash left unfinished, with audio on disk,
        oldest first; not those this engine is still grading in the background."""
        busy = self._background.busy() if self._background is not None else set()
        return interrupted_attempts(self.store, self.bank, busy=busy)

    def recover(self, attempt_id: int) -> Attempt:
        """Transcribe and grade an interrupted attempt (outside the current
        question; the phase does not change)."""
        return recover_attempt(self.store, self.bank, self.ports, attempt_id, scheduler=self.scheduler)

    # -- helpers -----------------------------------------------------------------------

    @property
    def _session_id(self) -> int | None:
        return None if self.session is None else self.session.id

    def _elapsed(self) -> float:
        return 0.0 if self._answer_started is None else max(0.0, self.clock() - self._answer_started)

    def _answer_time(self, elapsed: float) -> tuple[bool, float]:
        """(timed out, the answer's time clipped to the limit), for the row."""
        limit = self.time_limit_s
        timed_out = limit is not None and elapsed >= limit
        clipped = min(elapsed, limit) if timed_out and limit is not None else elapsed
        return timed_out, round(clipped, 3)

    def _close_open_attempt(self, state: str) -> None:
        if self.phase == Phase.LISTENING and self.ports.recorder is not None:
            try:
                answers.keep_private(self.ports.recorder.stop().path)
            except AudioError:
                pass
        self._live.cancel()
        if self.attempt is not None and self.attempt.state not in ("graded", "skipped", "failed"):
            self.attempt = self.store.update_attempt(self.attempt.id, state=state)


# ``Ports`` and the errors are re-exported: callers build an engine from this module alone.
__all__ = ["DRAIN_TIMEOUT_S", "IllegalTransition", "NothingDue", "Ports", "SessionEngine", "SessionError"]
