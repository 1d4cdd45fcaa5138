"""The headless session engine: one practice, rapid-fire or review session
as a state machine over plain values (never imports textual).

Every step runs synchronously; the TUI calls the slow ones from thread
workers, tests call them directly. The engine decides *when* a step is
legal. The answer steps act on the current turn (``turns``): the answer,
or a follow-up's reply (``followup``: the interviewer probes a key point
left out). What a step does lives in ``answers`` (transcribe, delivery,
grade, record), ``live`` (transcribing while the person speaks), ``rapid``
(grading rapid-round answers in the background) and ``summary``.

Phases (``Phase``) and the legal moves between them::

    IDLE -> ASKING -> LISTENING -> TRANSCRIBING -> GRADING -> FEEDBACK -> ASKING ... -> DONE
    LISTENING/TRANSCRIBING -> FEEDBACK     (defer: graded in the background)
    ASKING/LISTENING -> GRADING -> FEEDBACK   (typed answer)
    ASKING/LISTENING/TRANSCRIBING/GRADING -> FEEDBACK   (skip)
    FEEDBACK -> GRADING -> FEEDBACK        (re-grade a corrected transcript)
    FEEDBACK -> ASKING ... -> FEEDBACK     (begin_followup: the same steps, on the follow-up)
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
from typing import TYPE_CHECKING

from audio.errors import AudioError, NoMicrophone
from audio.results import Recording, Transcript
from interviewer.config import Settings
from interviewer.session import answers
from interviewer.session import phases as phases_
from interviewer.session.errors import IllegalTransition, NothingDue, SessionError
from interviewer.session.followup import FollowUpTurn, Probe, QuestionGrade
from interviewer.session.live import LiveTranscription
from interviewer.session.model import Attempt, AttemptState, Phase, SessionConfig, SessionInfo
from interviewer.session.ports import Ports
from interviewer.session.rapid import BackgroundGrader, DeferredAnswer, GradedAnswer
from interviewer.session.recovery import interrupted_attempts, recover_attempt
from interviewer.session.scheduler import ReviewOnce, ReviewScheduler
from interviewer.session.selection import session_questions
from interviewer.session.store import Store, utc_now
from interviewer.session.summary import SessionSummary, close_session, config_key
from interviewer.session.timing import AnswerClock
from interviewer.session.turns import AnswerTurn, Turn, prepare, speak
from questions.assessment import Assessment
from questions.model import Bank, Question

if TYPE_CHECKING:
    from audio.incremental import IncrementalTranscriber

DRAIN_TIMEOUT_S = 300.0
"""How long ``finish()`` waits for answers still being graded in the background."""


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
        limit, rapid = self.config.time_limit_s, self.config.mode == "rapid"
        self._clock = AnswerClock(clock, self.settings.rapid_answer_s if limit is None and rapid else limit)
        self.questions: list[Question] = []
        """The questions chosen by ``start()``, in the order they are asked."""
        self.phase = Phase.IDLE
        self.index = -1
        self.session: SessionInfo | None = None
        self.recording: Recording | None = None  # of the current turn
        self._answer: AnswerTurn | None = None
        self._turn: Turn | None = None
        """The turn the answer steps act on: ``_answer`` or a follow-up."""
        self.on_graded: Callable[[GradedAnswer], None] | None = None
        """Called on the background worker's thread for each deferred answer."""
        self._attempts: dict[str, int] = {}
        self._summary: SessionSummary | None = None
        self._lock = threading.RLock()
        self._review = ReviewOnce(self.scheduler, now).record  # an answer's own grade, once
        self._background = BackgroundGrader(store, ports, self._review, self._notify_graded)
        """Grades deferred answers (rapid rounds; its thread starts on first use)."""
        self._live = LiveTranscription(ports.recorder, ports.transcriber, enabled=incremental)

    def _require(self, action: str, *phases: Phase, target: Phase | None = None) -> None:
        phases_.require(self.phase, action, phases, target)

    def _move(self, target: Phase, action: str, *, allowed_from: tuple[Phase, ...]) -> None:
        phases_.require(self.phase, action, allowed_from, target)
        self.phase = target

    @property
    def current(self) -> Question | None:
        if 0 <= self.index < len(self.questions) and self.phase != Phase.DONE:
            return self.questions[self.index]
        return None

    def _question(self) -> Question:
        if (q := self.current) is None:
            raise IllegalTransition("no current question; call next_question() first")
        return q

    @property
    def attempt(self) -> Attempt | None:
        """The current question's attempt, as last stored (its score the
        combined one once a follow-up is graded)."""
        return None if self._answer is None else self._answer.attempt

    @property
    def assessment(self) -> Assessment | None:
        """The last grade of the current answer (not of its follow-ups)."""
        return None if self._answer is None else self._answer.assessment

    def question_grade(self) -> QuestionGrade | None:
        """The question's grade with its follow-ups: points given unprompted,
        after a prompt, or missed (None before the answer is graded)."""
        return None if self._answer is None else self._answer.question_grade()

    @property
    def followup(self) -> FollowUpTurn | None:
        """The follow-up being asked (``begin_followup``) until graded or skipped."""
        return self._turn if isinstance(self._turn, FollowUpTurn) else None

    def _current_turn(self) -> Turn:
        self._question()  # raises before the first question
        assert self._turn is not None
        return self._turn

    def start(self) -> SessionInfo:
        """Choose the questions and create the session row."""
        with self._lock:
            if self.session is not None:
                raise IllegalTransition("the session has already started")
            self._require("start", Phase.IDLE)
            cfg = self.config
            self.questions = session_questions(
                self.bank, cfg, self.rng, self.scheduler, self.store, self.now()
            )
            info = {**asdict(cfg), "key": config_key(cfg), "questions": [q.id for q in self.questions]}
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
            self.recording, self._answer, self._turn = None, None, None
            if self.index >= len(self.questions):
                self.index = len(self.questions)
                self.phase = Phase.DONE
                return None
            self._move(Phase.ASKING, "ask", allowed_from=(Phase.IDLE, Phase.FEEDBACK))
            q = self.questions[self.index]
            self._answer = AnswerTurn(
                self.store, q, session_id=self.session.id, bank=self.bank.name,
                mode=self.config.mode, review=self._review,
            )
            self._turn = self._answer
            self._clock.restart()
            self._prepare(q.spoken_text, *(n.spoken_text for n in self.questions[self.index + 1 :][:1]))
            return q

    def ask(self, cancel: threading.Event | None = None) -> str | None:
        """Read the question (or the follow-up's probe) aloud. Returns a
        one-line notice (and shows the question instead) when speech is
        unavailable; None when it was spoken or speech is turned off."""
        self._require("ask", Phase.ASKING)
        turn = self._current_turn()
        notice = self.say(turn.spoken_text, cancel) if self.settings.speak_questions else None
        with self._lock:
            if self.phase == Phase.ASKING and self._turn is turn and not turn.opened:
                self._clock.restart()  # the answer's time starts after the question
        return notice

    def start_answer(self, on_level: Callable[[float], None] | None = None) -> Attempt:
        """Create the turn's row (state "recording") before audio starts,
        then start recording (phase LISTENING); returns the question's
        attempt. Raises ``NoMicrophone`` without a recorder: the caller
        offers typing."""
        with self._lock:
            self._require("start an answer", Phase.ASKING)
            q, turn = self._question(), self._current_turn()
            recorder = self.ports.recorder
            if recorder is None:
                raise NoMicrophone("no microphone is available: type your answer instead")
            wav = turn.open()
            self._live.start(turn.live_key, q.recogniser_hint())
            try:
                recorder.start(wav, on_level)
            except AudioError as exc:
                self._live.cancel()
                turn.start_failed(str(exc))
                raise
            self._move(Phase.LISTENING, "start an answer", allowed_from=(Phase.ASKING,))
            self._clock.restart()
            return self._note_attempt()

    def _prepare(self, *texts: str) -> None:  # rendered ahead, in the background
        prepare(self.ports.speaker if self.settings.speak_questions else None, *texts)

    def say(self, text: str, cancel: threading.Event | None = None) -> str | None:
        """Read ``text`` aloud (until done or cancelled): None, or why not (any phase)."""
        return speak(self.ports.speaker, text, cancel)

    def partial_transcript(self) -> str:
        """The text recognised so far of the answer being recorded ("" when
        none yet, or transcribed only after it ends); any thread."""
        return self._live.text_so_far()

    @property
    def live_transcriber(self) -> IncrementalTranscriber | None:
        return self._live.transcriber  # of the current answer, or None

    def answer_ended(self, timeout: float | None = None) -> bool:
        """True when the answer is over by itself (the recorder stopped: silence,
        limit, device lost; or the time is up); waits at most ``timeout``."""
        if self.phase != Phase.LISTENING or self.ports.recorder is None:
            return self.phase != Phase.LISTENING
        return self._clock.ended(self.ports.recorder, timeout)

    def stop_answer(self) -> Recording:
        """Stop recording (state "recorded"); phase TRANSCRIBING."""
        with self._lock:
            self._require("stop the answer", Phase.LISTENING)
            turn = self._current_turn()
            assert self.ports.recorder is not None
            elapsed = self._clock.elapsed()
            try:
                rec = self.ports.recorder.stop()
            except AudioError as exc:
                self._live.cancel()
                turn.stop_failed(str(exc))
                self._turn, self.phase = self._answer, Phase.FEEDBACK
                raise
            self._live.detach()
            if not rec.speech_detected:
                self._live.cancel()  # nothing to transcribe
            timed_out, answer_time = self._clock.answer_time(elapsed)
            turn.recorded(rec, timed_out=timed_out, answer_time_s=answer_time)
            self.recording = rec
            self._move(Phase.TRANSCRIBING, "stop the answer", allowed_from=(Phase.LISTENING,))
            return rec

    def transcribe(self) -> Transcript:
        """Transcribe the recorded answer (state "transcribed"); phase
        GRADING. No speech gives an empty transcript and no grade."""
        with self._lock:
            self._require("transcribe", Phase.TRANSCRIBING)
            q, turn = self._question(), self._current_turn()
            assert self.recording is not None
            live = self._live.hand_over(turn.live_key)
            recording = self.recording
        done = answers.transcribe_answer(self.ports.transcriber, q, recording, live)
        with self._lock:
            current = self.phase == Phase.TRANSCRIBING and self._turn is turn
            turn.transcribed(done, current=current)  # skipped meanwhile: the text is kept
            if not current:
                return done.transcript
            self._move(Phase.GRADING, "transcribe", allowed_from=(Phase.TRANSCRIBING,))
            return done.transcript

    def grade(self, text: str | None = None) -> Assessment:
        """Grade the transcript, or ``text`` (a hand correction); phase FEEDBACK.
        Again in FEEDBACK, it re-grades the answer (the earlier grade goes to
        the history). No speech is never graded. A follow-up's reply is graded
        (that grade is returned), the attempt's score becomes the combined one."""
        self._require("grade", Phase.GRADING, Phase.FEEDBACK)
        self._question()
        attempt = self.attempt
        if attempt is None or self._answer is None:
            raise IllegalTransition("there is no answer to grade")
        if attempt.id in self._background.deferred:
            raise IllegalTransition("this answer is being graded in the background")
        was = self.phase
        turn = self._current_turn() if was == Phase.GRADING else self._answer
        self.phase = Phase.GRADING
        try:
            assessment = turn.grade(self.ports.grader, text)
        except BaseException:
            self.phase = was
            raise
        if isinstance(turn, FollowUpTurn):
            self._answer.attempt = turn.attempt  # with the combined score
        self._turn, self.phase = self._answer, Phase.FEEDBACK
        probe = self._answer.next_probe(self.settings)
        self._prepare(*((probe.prompt,) if probe is not None else ()))
        return assessment

    def followup_offer(self) -> Probe | None:
        """After a graded practice answer (FEEDBACK): the follow-up the
        interviewer asks next, or None (``followup.next_probe``)."""
        with self._lock:
            if self.phase != Phase.FEEDBACK or self._answer is None:
                return None
            return self._answer.next_probe(self.settings)

    def begin_followup(self) -> Probe:
        """Ask the offered follow-up (phase ASKING): ``ask`` reads its probe,
        the answer steps act on its reply; ``skip`` costs nothing."""
        with self._lock:
            probe = self.followup_offer()
            if probe is None or self._answer is None:
                raise IllegalTransition("no follow-up is due for this answer")
            self._turn = self._answer.follow_up(probe, self.settings.followup_share)
            self._move(Phase.ASKING, "ask a follow-up", allowed_from=(Phase.FEEDBACK,))
            self._clock.restart()
            return probe

    def submit_typed(self, text: str) -> Assessment:
        """Answer (or reply to a follow-up) by typing and grade it; phase
        FEEDBACK. While listening, the recording is stopped and kept."""
        with self._lock:
            self._require("submit a typed answer", Phase.ASKING, Phase.LISTENING)
            turn = self._current_turn()
            if self.phase == Phase.LISTENING:
                self._stop_recording()
                self.phase = Phase.ASKING
            timed_out, answer_time = self._clock.answer_time()
            turn.typed(text, timed_out=timed_out, answer_time_s=answer_time)
            self._note_attempt()
            self._move(Phase.GRADING, "submit a typed answer", allowed_from=(Phase.ASKING,))
        return self.grade()

    def skip(self) -> None:
        """Give up this question (an open attempt becomes "skipped", its audio
        kept) or this follow-up (stored as skipped, at no cost); phase FEEDBACK."""
        with self._lock:
            self._require("skip", Phase.ASKING, Phase.LISTENING, Phase.TRANSCRIBING, Phase.GRADING)
            self._close_open_attempt("skipped")
            self.phase = Phase.FEEDBACK

    @property
    def time_limit_s(self) -> float | None:
        """The hard limit per answer (rapid rounds: by default the settings')."""
        return self._clock.limit_s

    def remaining_s(self) -> float | None:
        """Seconds left for this answer in a timed round; None otherwise."""
        if self.phase not in (Phase.ASKING, Phase.LISTENING):
            return None
        return self._clock.remaining()

    def keep_answer(self) -> int | None:
        """Ending the session mid-answer keeps what was said: an answer being
        recorded is stopped, one recorded but not transcribed yet is handed
        to the background grader (``finish()`` waits for it), one transcribed
        is graded; a follow-up's reply is graded at once. Returns the attempt
        id handed over, or None. Call it when no other step of this answer
        runs (the TUI's lock sees to that); ``finish()`` calls it too."""
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
            no_speech = self.recording is not None and not self.recording.speech_detected
            if self.followup is not None or no_speech:
                try:  # a reply is graded at once; no speech is stored without the recogniser
                    self.transcribe()
                    self.grade()
                except (AudioError, SessionError):
                    self._turn = self._answer  # the reply stays "recorded", recovered later
                return None
            return self.defer_answer()

    def finish(self, wait_s: float | None = None) -> SessionSummary:
        """End the session (any phase) and summarise the questions answered:
        an answer open is kept and graded (``keep_answer``), a question only
        asked is left out. Deferred answers are waited for (``wait_s``,
        default ``DRAIN_TIMEOUT_S``); those not graded by then stay
        "recorded" for ``recover_interrupted`` (``SessionSummary.ungraded``)."""
        with self._lock:
            if self._summary is not None:
                return self._summary
            if self.session is None:
                raise IllegalTransition("cannot finish a session that never started")
            self.keep_answer()
            asked_only = self.phase == Phase.ASKING and self.attempt is None
            if self.phase == Phase.ASKING:
                self._close_open_attempt("skipped", record_unasked=False)
            self._live.cancel()
            self.phase = Phase.DONE
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

    def defer_answer(self) -> int:
        """Hand the current answer to the background grader and move on:
        stops the recorder if it still runs (state "recorded"), queues the
        attempt, and moves to FEEDBACK so ``next_question()`` is legal at
        once. Returns the attempt id. The next answer's clock is not
        touched: it starts when the next question is asked."""
        with self._lock:
            self._require("hand off the answer", Phase.LISTENING, Phase.TRANSCRIBING)
            if self.followup is not None:
                raise IllegalTransition("a follow-up is graded at once, not in the background")
            if self.phase == Phase.LISTENING:
                self.stop_answer()
            q = self._question()
            assert self.attempt is not None
            attempt_id = self.attempt.id
            live = self._live.hand_over(str(attempt_id))
            self._background.submit(DeferredAnswer(q, attempt_id, self.recording, live))
            self._move(Phase.FEEDBACK, "hand off the answer", allowed_from=(Phase.TRANSCRIBING,))
            return attempt_id

    def cancel_background(self) -> list[int]:
        """Stop grading deferred answers not started yet (they stay "recorded",
        offered for recovery; a waiting ``finish()`` returns once the answer
        being graded is done). Returns the attempt ids left ungraded."""
        return self._background.cancel()

    def pending(self) -> int:
        """Deferred answers not graded yet."""
        return self._background.pending()

    def _notify_graded(self, graded: GradedAnswer) -> None:
        listener = self.on_graded
        if listener is not None:
            listener(graded)

    def recover_interrupted(self) -> list[Attempt]:
        """Attempts of this bank a crash left unfinished, with audio on disk,
        oldest first; not those this engine is still grading in the background."""
        return interrupted_attempts(self.store, self.bank, busy=self._background.busy())

    def recover(self, attempt_id: int) -> Attempt:
        """Transcribe and grade an interrupted attempt (outside the current
        question; the phase does not change)."""
        return recover_attempt(self.store, self.bank, self.ports, attempt_id, scheduler=self.scheduler)

    def _note_attempt(self) -> Attempt:
        """Remember the question's attempt for the summary; returns it."""
        assert self.attempt is not None
        self._attempts[self.attempt.question_id] = self.attempt.id
        return self.attempt

    def _stop_recording(self) -> None:
        """Stop a recording being made (its audio is kept) and its live transcription."""
        if self.phase == Phase.LISTENING and self.ports.recorder is not None:
            try:
                answers.keep_private(self.ports.recorder.stop().path)
            except AudioError:
                pass
        self._live.cancel()

    def _close_open_attempt(self, state: AttemptState, *, record_unasked: bool = True) -> None:
        """End the current turn in ``state``; a follow-up is then over."""
        self._stop_recording()
        if self._turn is not None:
            self._turn.close(state, record_unasked=record_unasked)
        self._turn = self._answer


# ``Ports`` and the errors are re-exported: callers build an engine from this module alone.
__all__ = ["DRAIN_TIMEOUT_S", "IllegalTransition", "NothingDue", "Ports", "SessionEngine", "SessionError"]
