"""The headless session engine (never imports textual).

CONTRACT (the TUI and the CLI code against exactly this; the bodies are to be
written). Every method runs synchronously on plain values; the TUI calls the
slow ones (ask, stop_answer, transcribe, grade) from thread workers.

    engine = SessionEngine(bank, store, ports, settings, config,
                           clock=time.monotonic, rng=random.Random(seed))
    engine.start()                         -> SessionInfo   (row in the store)
    engine.questions                       -> list[Question] chosen for the session
    engine.phase                           -> Phase
    engine.index / engine.current          -> position and current Question (None when done)
    engine.next_question()                 -> Question | None   (phase ASKING; None -> DONE)
    engine.ask(cancel: Event | None)       -> str | None  (speaks the question; returns a
                                              one-line notice instead of raising when speech
                                              is unavailable)
    engine.start_answer(on_level=None)     -> Attempt  (phase LISTENING; the attempt row exists
                                              in state "recording" BEFORE audio starts; raises
                                              audio.errors.NoMicrophone -> caller offers typing)
    engine.answer_ended(timeout)           -> bool     (recorder stopped by itself: silence/limit)
    engine.stop_answer()                   -> Recording (state "recorded")
    engine.transcribe()                    -> Transcript (state "transcribed"; no-speech -> no grade)
    engine.partial_transcript()            -> str  (text recognised so far while LISTENING)
    engine.grade(text: str | None = None)  -> Assessment (state "graded"; text overrides the
                                              transcript, e.g. a hand correction -> re-grade)
    engine.submit_typed(text)              -> Assessment (typed answer: creates + grades an attempt)
    engine.skip()                          -> None (attempt row "skipped" if one was open)
    engine.remaining_s()                   -> float | None (rapid rounds: time left for this answer)
    engine.finish()                        -> SessionSummary (per-question score and time,
                                              total, personal best for rapid rounds)
    engine.defer_answer()                  -> int  (rapid rounds: hand the answer to the
                                              background grader and move on; see below)
    engine.recover_interrupted()           -> list[Attempt] (rows left in "recording"/"recorded"
                                              by a crash, audio on disk, offered for transcription)

Live transcription: when the recorder streams its audio (a
``StreamingRecorder`` with a settable ``feed``, as ``audio.recorder.Recorder``),
a recogniser is available and ``incremental`` is on (the default; the
constructor argument or a ``Settings.incremental_transcription`` attribute
turns it off), ``start_answer`` starts an ``audio.incremental.
IncrementalTranscriber`` with the question's recogniser hint and points the
recorder's ``feed`` at it: finished stretches of the answer are transcribed
while the person is still speaking, ``partial_transcript()`` returns the text
so far (any thread), and ``transcribe()`` only waits for the tail. It falls
back to transcribing the WAV file when the live transcription failed or
missed audio (noted in the attempt's ``extra["asr_incremental_failed"]``);
skip, finish, a failed start and no speech cancel it; ``defer_answer`` hands
it to the background worker, which finishes the tail there (the work done
during the answer is not thrown away). Crash recovery always transcribes the
file.

Additions beyond the contract: ``engine.attempt`` (the current Attempt),
``engine.assessment`` (the last grade), ``engine.recover(attempt_id)``
(transcribe and grade an interrupted attempt), ``engine.regrade(attempt_id,
text=None)`` and ``engine.scheduler`` (FSRS state of the bank).

Background grading (rapid rounds): ``defer_answer()`` stops the recorder if it
still runs (state "recorded"), queues the attempt on one background worker
(``interviewer.session.background``) and moves to FEEDBACK, so
``next_question()`` is legal at once while the worker transcribes and grades
the deferred answers one at a time, in order (the same code as crash
recovery). ``pending()`` counts answers not graded yet, ``results()`` returns
the finished ``QuestionResult`` s in order, ``on_graded`` (settable) is called
on the worker thread with a ``GradedAnswer`` for each. ``finish(wait_s)``
waits for the worker (``DRAIN_TIMEOUT_S`` by default) so the summary includes
every answer; an answer still ungraded then stays "recorded", is listed in
``SessionSummary.ungraded`` and is offered by ``recover_interrupted``.

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

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from audio.errors import AudioError, NoMicrophone
from audio.results import Recording, Transcript
from interviewer.config import Settings
from interviewer.session.background import BackgroundQueue
from interviewer.session.model import Attempt, Phase, SessionConfig, SessionInfo
from interviewer.session.ports import Grader, Recorder, Speaker, Transcriber
from interviewer.session.scheduler import ReviewScheduler
from interviewer.session.selection import SelectionError, select_questions
from interviewer.session.store import Store, utc_now
from questions.assessment import Assessment
from questions.model import Bank, Question


class SessionError(Exception):
    """A session cannot do what was asked; one actionable line."""


class IllegalTransition(SessionError):
    """A step was called in a phase that does not allow it."""


class NothingDue(SessionError):
    """A review session found no question due."""


DRAIN_TIMEOUT_S = 300.0
"""How long ``finish()`` waits for answers still being graded in the background."""


@dataclass(frozen=True)
class Ports:
    """The outside world the engine drives; ``None`` means not available
    (no speech, no microphone, no recogniser) and the engine degrades."""

    speaker: Speaker | None = None
    recorder: Recorder | None = None
    transcriber: Transcriber | None = None
    grader: Grader | None = None
    """Defaults to ``questions.grade_question``."""


@dataclass(frozen=True)
class QuestionResult:
    """One question of a finished session."""

    question_id: str
    prompt: str
    score: float | None
    answer_time_s: float | None
    state: str
    """The attempt's state ("graded", "skipped", ...), or "unanswered"."""
    attempt_id: int | None = None
    no_speech: bool = False
    timed_out: bool = False


@dataclass(frozen=True)
class SessionSummary:
    session_id: int
    mode: str
    bank: str
    results: tuple[QuestionResult, ...]
    total: float
    """Sum of the scores (no speech and skipped count 0)."""
    mean: float | None
    """Mean score of the graded answers (None when nothing was graded)."""
    answered: int
    previous_best: float | None = None
    """Rapid rounds: the best ``total`` of earlier rounds with the same settings."""
    new_best: bool = False
    """Rapid rounds: this round beat ``previous_best`` (or is the first)."""
    leeches: tuple[str, ...] = ()
    """Questions of this session failed often: study their reference first."""
    ungraded: tuple[int, ...] = ()
    """Attempts handed to the background grader and not graded when the
    session finished: kept "recorded" and offered for recovery."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GradedAnswer:
    """An answer the background worker finished (or failed to finish)."""

    result: QuestionResult
    transcript: str = ""
    assessment: Assessment | None = None
    """None when grading failed (the attempt stays recoverable) or no speech."""
    error: str | None = None
    """One line when transcribing or grading failed."""
    attempt: Attempt | None = None


@dataclass(frozen=True)
class _Deferred:
    question: Question
    attempt_id: int
    recording: Recording | None
    live: Any = None
    """The answer's ``IncrementalTranscriber`` when one ran: only its tail is
    left to transcribe."""


@dataclass(frozen=True)
class _Live:
    """The incremental transcription of the answer being recorded."""

    attempt_id: int
    transcriber: Any
    """``audio.incremental.IncrementalTranscriber``"""


_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.ASKING, Phase.DONE}),
    Phase.ASKING: frozenset({Phase.LISTENING, Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.LISTENING: frozenset({Phase.TRANSCRIBING, Phase.FEEDBACK, Phase.DONE}),
    Phase.TRANSCRIBING: frozenset({Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.GRADING: frozenset({Phase.FEEDBACK, Phase.DONE}),
    Phase.FEEDBACK: frozenset({Phase.ASKING, Phase.GRADING, Phase.DONE}),
    Phase.DONE: frozenset({Phase.DONE}),
}


def config_key(config: SessionConfig) -> str:
    """What makes two sessions comparable for a personal best (not the seed
    or the order)."""
    basis = {
        "mode": config.mode,
        "bank": config.bank,
        "count": config.count,
        "topics": sorted(config.topics),
        "difficulty": config.difficulty,
        "time_limit_s": config.time_limit_s,
        "question_ids": list(config.question_ids),
    }
    return hashlib.sha1(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


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
        incremental: bool | None = None,
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
        self.questions: list[Question] = []
        self.phase = Phase.IDLE
        self.index = -1
        self.session: SessionInfo | None = None
        self.attempt: Attempt | None = None
        self.recording: Recording | None = None
        self.transcript: Transcript | None = None
        self.assessment: Assessment | None = None
        self._no_speech = False
        self._reviewed: set[int] = set()
        self._answer_started: float | None = None
        self._attempts: dict[str, int] = {}
        self._summary: SessionSummary | None = None
        self._lock = threading.RLock()
        self._review_lock = threading.Lock()
        """Serialises spaced-repetition reviews (the UI and the background worker)."""
        self._deferred: set[int] = set()
        self._in_flight: set[int] = set()
        """Deferred attempts the worker has not finished (graded or failed)."""
        self._background: BackgroundQueue[_Deferred, GradedAnswer] | None = None
        self.on_graded: Callable[[GradedAnswer], None] | None = None
        """Called on the background worker's thread for each deferred answer."""
        if incremental is None:
            incremental = bool(getattr(self.settings, "incremental_transcription", True))
        self.incremental = incremental
        """Transcribe while the person speaks (when the recorder can stream
        its audio and a recogniser is available); else after the answer."""
        self._live: _Live | None = None

    # -- state machine ------------------------------------------------------------

    def _move(self, target: Phase, action: str, *, allowed_from: tuple[Phase, ...]) -> None:
        if self.phase not in allowed_from or target not in _ALLOWED[self.phase]:
            expected = " or ".join(p.value for p in allowed_from)
            raise IllegalTransition(
                f"cannot {action} while {self.phase.value} (allowed when {expected})"
            )
        self.phase = target

    def _require(self, action: str, *phases: Phase) -> None:
        if self.phase not in phases:
            expected = " or ".join(p.value for p in phases)
            raise IllegalTransition(f"cannot {action} while {self.phase.value} (allowed when {expected})")

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

    @property
    def time_limit_s(self) -> float | None:
        """The hard limit per answer, or None outside rapid rounds (unless the
        configuration sets one)."""
        if self.config.time_limit_s is not None:
            return self.config.time_limit_s
        if self.config.mode == "rapid":
            return self.settings.rapid_answer_s
        return None

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
            self._drop_live()
            self.index += 1
            self.attempt = None
            self.recording = None
            self.transcript = None
            self.assessment = None
            self._no_speech = False
            if self.index >= len(self.questions):
                self.index = len(self.questions)
                self.phase = Phase.DONE
                return None
            self._move(Phase.ASKING, "ask", allowed_from=(Phase.IDLE, Phase.FEEDBACK))
            self._answer_started = self.clock()
            return self.questions[self.index]

    def ask(self, cancel: threading.Event | None = None) -> str | None:
        """Read the question aloud. Returns a one-line notice (and shows the
        question instead) when speech is unavailable or turned off."""
        self._require("ask", Phase.ASKING)
        q = self._question()
        notice: str | None = None
        if not self.settings.speak_questions:
            notice = None
        elif self.ports.speaker is None:
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
        """Create the attempt row (state "recording"), then start recording."""
        with self._lock:
            self._require("start an answer", Phase.ASKING)
            q = self._question()
            if self.ports.recorder is None:
                raise NoMicrophone("no microphone is available: type your answer instead")
            attempt = self.store.begin_attempt(
                q.id, session_id=self._session_id, bank=self.bank.name, extra={"mode": self.config.mode}
            )
            self.attempt = attempt
            self._attempts[q.id] = attempt.id
            assert attempt.audio_path is not None
            self._start_live(q, attempt.id)
            try:
                self.ports.recorder.start(Path(attempt.audio_path), on_level)
            except AudioError as exc:
                self._drop_live()
                self.attempt = self.store.update_attempt(attempt.id, state="failed", error=str(exc))
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
        live = self._live
        if live is None:
            return ""
        texts = [s.text.strip() for s in list(live.transcriber.stretches)]
        return " ".join(t for t in texts if t)

    @property
    def live_transcriber(self) -> Any:
        """The ``IncrementalTranscriber`` of the current answer, or None."""
        live = self._live
        return None if live is None else live.transcriber

    def _start_live(self, q: Question, attempt_id: int) -> None:
        """Start transcribing the answer while it is recorded, when the
        recorder streams its blocks (``StreamingRecorder``) and a recogniser
        is available; otherwise the answer is transcribed after it ends."""
        self._drop_live()
        recorder, transcriber = self.ports.recorder, self.ports.transcriber
        if not self.incremental or transcriber is None or not hasattr(recorder, "feed"):
            return
        try:
            from audio.incremental import IncrementalTranscriber

            live = IncrementalTranscriber(transcriber, q.recogniser_hint())
        except Exception:
            return  # the batch path still works
        recorder.feed = live.feed  # type: ignore[union-attr]
        self._live = _Live(attempt_id, live)

    def _detach_feed(self) -> None:
        recorder = self.ports.recorder
        if self._live is not None and recorder is not None and hasattr(recorder, "feed"):
            recorder.feed = None  # type: ignore[union-attr]

    def _take_live(self, attempt_id: int) -> Any:
        """Hand over the incremental transcriber of ``attempt_id`` (None when
        none ran for it)."""
        self._detach_feed()
        live, self._live = self._live, None
        if live is None:
            return None
        if live.attempt_id != attempt_id:
            _cancel_live(live.transcriber)
            return None
        return live.transcriber

    def _drop_live(self) -> None:
        """Stop the incremental transcription of the current answer, if any."""
        self._detach_feed()
        live, self._live = self._live, None
        if live is not None:
            _cancel_live(live.transcriber)

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
                self._drop_live()
                self.attempt = self.store.update_attempt(self.attempt.id, state="recorded", error=str(exc))
                self.phase = Phase.FEEDBACK
                raise
            self._detach_feed()
            if not rec.speech_detected:
                self._drop_live()  # nothing to transcribe
            _private_file(rec.path)
            limit = self.time_limit_s
            timed_out = limit is not None and elapsed >= limit
            answer_time = min(elapsed, limit) if (timed_out and limit is not None) else elapsed
            extra = {
                **self.attempt.extra,
                "stopped_by": "limit" if timed_out and rec.stopped_by == "user" else rec.stopped_by,
                "speech_detected": rec.speech_detected,
                "pauses": [list(p) for p in rec.pauses],
                "timed_out": timed_out,
            }
            self.attempt = self.store.update_attempt(
                self.attempt.id,
                state="recorded",
                duration_s=rec.duration_s,
                answer_time_s=round(answer_time, 3),
                error=rec.error,
                extra=extra,
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
            live = self._take_live(self.attempt.id)
            recording = self.recording
        transcript, delivery, extra = _transcribe_answer(
            self.ports.transcriber, q, recording, live
        )
        with self._lock:
            if self.phase != Phase.TRANSCRIBING or self.attempt is None:
                # skipped or finished meanwhile: keep the text, not the state change
                if self.attempt is not None:
                    self.attempt = self.store.update_attempt(
                        self.attempt.id, transcript=transcript.text, delivery=delivery
                    )
                return transcript
            self._no_speech = not transcript.text.strip()
            self.attempt = self.store.update_attempt(
                self.attempt.id,
                state="transcribed",
                transcript=transcript.text,
                delivery=delivery,
                extra={**self.attempt.extra, **extra, "no_speech": self._no_speech},
            )
            self.transcript = transcript
            self._move(Phase.GRADING, "transcribe", allowed_from=(Phase.TRANSCRIBING,))
            return transcript

    def grade(self, text: str | None = None) -> Assessment:
        """Grade the transcript, or ``text`` when given (a hand correction);
        phase FEEDBACK. Calling it again in FEEDBACK re-grades (the earlier
        grade is kept in the attempt's history). No speech is never graded."""
        self._require("grade", Phase.GRADING, Phase.FEEDBACK)
        q = self._question()
        if self.attempt is None:
            raise IllegalTransition("there is no answer to grade")
        if self.attempt.id in self._deferred:
            raise IllegalTransition(
                "this answer is being graded in the background; re-grade it with regrade()"
            )
        was = self.phase
        self.phase = Phase.GRADING
        try:
            assessment = self._grade_attempt(q, self.attempt, text)
        except BaseException:
            self.phase = was
            raise
        self.phase = Phase.FEEDBACK
        return assessment

    def _grade_attempt(self, q: Question, attempt: Attempt, text: str | None) -> Assessment:
        spoken = attempt.transcript or ""
        answer = spoken if text is None else text
        if not answer.strip():
            assessment = Assessment(score=None, no_speech=True)
            grader_name = "none"
        else:
            grader = self._grader()
            assessment = grader(q, answer)
            grader_name = _name_of(grader)
        edited = text is not None and not attempt.typed and text != spoken
        self.attempt = self.store.record_grade(
            attempt.id,
            score=assessment.score,
            assessment=assessment.to_dict(),
            transcript=answer if text is not None else None,
            transcript_edited=True if edited else None,
            grader=grader_name,
        )
        self.assessment = assessment
        self._review(q, attempt.id, assessment)
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
            elapsed = self._elapsed()
            limit = self.time_limit_s
            timed_out = limit is not None and elapsed >= limit
            attempt = self.store.begin_attempt(
                q.id,
                session_id=self._session_id,
                bank=self.bank.name,
                state="transcribed",
                typed=True,
                extra={"mode": self.config.mode, "timed_out": timed_out},
            )
            self.attempt = self.store.update_attempt(
                attempt.id,
                transcript=text,
                answer_time_s=round(min(elapsed, limit) if timed_out and limit else elapsed, 3),
            )
            self._attempts[q.id] = attempt.id
            self._move(Phase.GRADING, "submit a typed answer", allowed_from=(Phase.ASKING,))
        return self.grade()

    def skip(self) -> None:
        """Give up this question: an open attempt becomes "skipped" (its audio
        is kept); phase FEEDBACK, then ``next_question()``."""
        with self._lock:
            self._require(
                "skip", Phase.ASKING, Phase.LISTENING, Phase.TRANSCRIBING, Phase.GRADING
            )
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

    def finish(self, wait_s: float | None = None) -> SessionSummary:
        """End the session (any phase) and summarise it. An answer being
        recorded is stopped and kept as "skipped"; one recorded but not yet
        transcribed stays "recorded" and is offered by ``recover_interrupted``.
        Answers deferred to the background are waited for (at most ``wait_s``
        seconds, ``DRAIN_TIMEOUT_S`` by default); those not graded by then
        stay "recorded" and are listed in ``SessionSummary.ungraded``."""
        with self._lock:
            if self._summary is not None:
                return self._summary
            if self.session is None:
                raise IllegalTransition("cannot finish a session that never started")
            if self.phase in (Phase.LISTENING, Phase.ASKING):
                self._close_open_attempt("skipped")
            self._drop_live()
            self.phase = Phase.DONE
        ungraded: tuple[int, ...] = ()
        background = self._background
        if background is not None:
            # outside the lock: the worker never needs it, callers may ask pending()
            if not background.drain(DRAIN_TIMEOUT_S if wait_s is None else wait_s):
                self.cancel_background()
            ungraded = tuple(
                a for a in sorted(self._deferred)
                if self.store.get_attempt(a).state in ("recording", "recorded", "transcribed")
            )
        with self._lock:
            if self._summary is not None:
                return self._summary
            self.store.end_session(self.session.id)
            self._summary = replace(self._summarise(), ungraded=ungraded)
            self.store.set_session_result(
                self.session.id,
                {"total": self._summary.total, "mean": self._summary.mean, "answered": self._summary.answered},
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
            live = self._take_live(attempt_id)
            self._deferred.add(attempt_id)
            self._in_flight.add(attempt_id)
            if self._background is None:
                self._background = BackgroundQueue(
                    self._grade_deferred, self._graded, name="interviewer-grading"
                )
            self._background.submit(_Deferred(q, attempt_id, self.recording, live))
            self._move(Phase.FEEDBACK, "hand off the answer", allowed_from=(Phase.TRANSCRIBING,))
            return attempt_id

    def cancel_background(self) -> list[int]:
        """Stop grading deferred answers that have not started (the one being
        graded finishes): they stay "recorded" and are offered for recovery.
        A ``finish()`` waiting for the worker returns once it is idle.
        Returns the attempt ids left ungraded."""
        background = self._background
        if background is None:
            return []
        jobs = background.close()
        for job in jobs:
            self._in_flight.discard(job.attempt_id)
            if job.live is not None:
                _cancel_live(job.live)
        return [job.attempt_id for job in jobs]

    def pending(self) -> int:
        """Deferred answers not graded yet."""
        background = self._background
        return 0 if background is None else background.pending()

    def results(self) -> list[QuestionResult]:
        """Deferred answers the background worker finished, in the order given."""
        background = self._background
        return [] if background is None else [g.result for g in background.results()]

    def graded_answers(self) -> list[GradedAnswer]:
        """Like ``results()``, with transcripts, assessments and errors."""
        background = self._background
        return [] if background is None else background.results()

    def _grade_deferred(self, job: _Deferred) -> GradedAnswer:
        """Runs on the background worker: the crash-recovery path, with the
        live recording's voice activity. A failure keeps the attempt
        "recorded" (or "transcribed") for recovery, noting the error."""
        try:
            return self._complete_deferred(job)
        finally:
            self._in_flight.discard(job.attempt_id)

    def _complete_deferred(self, job: _Deferred) -> GradedAnswer:
        from interviewer.session.recovery import complete_attempt

        try:
            if job.live is not None and job.recording is not None:
                self._store_live_transcript(job)
            attempt = self.store.get_attempt(job.attempt_id)
            graded, assessment = complete_attempt(
                self.store, job.question, self.ports.transcriber, self.ports.grader, attempt,
                recording=job.recording, notes={"background": True},
            )
            self._review(job.question, graded.id, assessment)
        except Exception as exc:
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            try:
                kept = self.store.update_attempt(job.attempt_id, error=line)
            except Exception:
                kept = None
            state = kept.state if kept is not None else "recorded"
            result = self._result_for(job.question, kept) if kept is not None else QuestionResult(
                job.question.id, job.question.prompt, None, None, state, attempt_id=job.attempt_id
            )
            return GradedAnswer(result=result, error=line, attempt=kept)
        return GradedAnswer(
            result=self._result_for(job.question, graded),
            transcript=graded.transcript or "",
            assessment=assessment,
            attempt=graded,
        )

    def _store_live_transcript(self, job: _Deferred) -> None:
        """Finish a deferred answer's incremental transcription (only its
        tail is left) and keep it ("transcribed"); when it failed the attempt
        stays "recorded" and is transcribed from its file."""
        assert job.recording is not None
        transcript, reason = _finish_live(job.live, job.recording)
        attempt = self.store.get_attempt(job.attempt_id)
        if transcript is None:
            self.store.update_attempt(
                job.attempt_id, extra={**attempt.extra, "asr_incremental_failed": reason}
            )
            return
        delivery, extra = _describe(transcript, job.recording.duration_s, job.recording, job.live)
        self.store.update_attempt(
            job.attempt_id,
            state="transcribed",
            duration_s=attempt.duration_s or job.recording.duration_s,
            transcript=transcript.text,
            delivery=delivery,
            extra={**attempt.extra, **extra, "no_speech": not transcript.text.strip(),
                   "background": True},
        )

    def _graded(self, graded: GradedAnswer) -> None:
        listener = self.on_graded
        if listener is not None:
            listener(graded)

    # -- recovery and re-grading ------------------------------------------------------

    def recover_interrupted(self) -> list[Attempt]:
        """Attempts of this bank left in "recording"/"recorded" with audio on
        disk (a crash mid-answer), oldest first. Answers this engine is still
        grading in the background are not offered."""
        background = self._background
        busy = self._in_flight if background is not None and not background.closed else set()
        return [
            a
            for a in self.store.interrupted_attempts()
            if self.store.attempt_bank(a.id) in (None, self.bank.name)
            and a.question_id in self.bank
            and a.id not in busy
        ]

    def recover(self, attempt_id: int) -> Attempt:
        """Transcribe and grade an interrupted attempt (outside the current
        question; the phase does not change)."""
        from interviewer.session.recovery import recover_attempt

        return recover_attempt(self.store, self.bank, self.ports, attempt_id, scheduler=self.scheduler)

    def regrade(self, attempt_id: int, text: str | None = None) -> Attempt:
        """Grade a stored attempt again (with this engine's grader, or a
        corrected ``text``); the previous grade stays in its history."""
        from interviewer.session.recovery import regrade_attempt

        return regrade_attempt(self.store, self.bank, self._grader(), attempt_id, text=text)

    # -- helpers -----------------------------------------------------------------------

    @property
    def _session_id(self) -> int | None:
        return None if self.session is None else self.session.id

    def _elapsed(self) -> float:
        return 0.0 if self._answer_started is None else max(0.0, self.clock() - self._answer_started)

    def _grader(self) -> Grader:
        return _grader_or_default(self.ports.grader)

    def _close_open_attempt(self, state: str) -> None:
        if self.phase == Phase.LISTENING and self.ports.recorder is not None:
            try:
                rec = self.ports.recorder.stop()
                _private_file(rec.path)
            except AudioError:
                pass
        self._drop_live()
        if self.attempt is not None and self.attempt.state not in ("graded", "skipped", "failed"):
            self.attempt = self.store.update_attempt(self.attempt.id, state=state)

    @staticmethod
    def _result_for(q: Question, a: Attempt) -> QuestionResult:
        return QuestionResult(
            question_id=q.id,
            prompt=q.prompt,
            score=a.score,
            answer_time_s=a.answer_time_s,
            state=a.state,
            attempt_id=a.id,
            no_speech=bool(a.assessment and a.assessment.get("no_speech")),
            timed_out=bool(a.extra.get("timed_out")),
        )

    def _summarise(self) -> SessionSummary:
        assert self.session is not None
        results = []
        reached = self.questions[: min(len(self.questions), self.index + 1)]
        for q in reached:
            attempt_id = self._attempts.get(q.id)
            if attempt_id is None:
                results.append(QuestionResult(q.id, q.prompt, None, None, "unanswered"))
                continue
            results.append(self._result_for(q, self.store.get_attempt(attempt_id)))
        scores = [r.score for r in results if r.score is not None]
        total = round(sum(scores), 4)
        mean = round(total / len(scores), 4) if scores else None
        previous = None
        new_best = False
        if self.config.mode == "rapid":
            previous = self.store.best_result(config_key(self.config), exclude=self.session.id)
            new_best = bool(scores) and (previous is None or total > previous)
        leeches = tuple(r.question_id for r in results if self.scheduler.is_leech(r.question_id))
        return SessionSummary(
            session_id=self.session.id,
            mode=self.config.mode,
            bank=self.bank.name,
            results=tuple(results),
            total=total,
            mean=mean,
            answered=len(scores),
            previous_best=previous,
            new_best=new_best,
            leeches=leeches,
        )


def _grader_or_default(grader: Grader | None) -> Grader:
    if grader is not None:
        return grader
    from questions import grade_question

    return grade_question


def _name_of(grader: Grader) -> str:
    name = getattr(grader, "__qualname__", None) or type(grader).__qualname__
    module = getattr(grader, "__module__", "") or ""
    return f"{module}.{name}" if module else name


def _private_file(path: Path | str) -> None:
    try:
        Path(path).chmod(0o600)
    except OSError:
        pass


def _transcribe(
    transcriber: Transcriber | None,
    q: Question,
    wav: Path,
    recording: Recording | None,
) -> tuple[Transcript, dict | None, dict]:
    """Transcript, delivery metrics and notes for the attempt's ``extra``."""
    if recording is not None and not recording.speech_detected:
        return Transcript(text="", duration_s=recording.duration_s), None, {}
    if transcriber is None:
        raise SessionError("speech recognition is unavailable; type the answer or run 'interviewer doctor'")
    from audio.clip import read_audio

    clip = read_audio(wav)
    transcript = transcriber.transcribe(clip, hint=q.recogniser_hint())
    delivery, extra = _describe(transcript, clip.duration_s, recording)
    return transcript, delivery, extra


LIVE_COVERAGE_TOLERANCE_S = 0.25
"""The incremental transcriber must have heard the whole recording (to this
much): otherwise blocks were lost and the file is transcribed instead."""


def _transcribe_answer(
    transcriber: Transcriber | None,
    q: Question,
    recording: Recording,
    live: Any,
) -> tuple[Transcript, dict | None, dict]:
    """The answer's transcript: from its incremental transcriber when one
    ran (only the tail is left), else (or when that failed) from the file."""
    reason = None
    if live is not None and recording.speech_detected:
        transcript, reason = _finish_live(live, recording)
        if transcript is not None:
            delivery, extra = _describe(transcript, recording.duration_s, recording, live)
            return transcript, delivery, extra
    elif live is not None:
        _cancel_live(live)
    transcript, delivery, extra = _transcribe(transcriber, q, Path(recording.path), recording)
    if reason is not None:
        extra["asr_incremental_failed"] = reason
    return transcript, delivery, extra


def _finish_live(live: Any, recording: Recording) -> tuple[Transcript | None, str | None]:
    """Finish an incremental transcription: (transcript, None), or (None,
    why it cannot be used) after cancelling it."""
    lost = int(recording.extra.get("feed_errors", 0) or 0)
    if lost:
        _cancel_live(live)
        return None, f"{lost} audio blocks did not reach the live transcription"
    try:
        transcript = live.finish()
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        return None, f"live transcription failed: {lines[0] if lines else type(exc).__name__}"
    if abs(transcript.duration_s - recording.duration_s) > LIVE_COVERAGE_TOLERANCE_S:
        return None, (
            f"live transcription heard {transcript.duration_s:.2f} s "
            f"of a {recording.duration_s:.2f} s recording"
        )
    return transcript, None


def _describe(
    transcript: Transcript, duration_s: float, recording: Recording | None, live: Any = None
) -> tuple[dict | None, dict]:
    """Delivery metrics and the ``extra`` notes of a transcript (``live``:
    the incremental transcriber that produced it)."""
    asr: dict[str, Any] = {
        "engine": transcript.engine,
        "model": transcript.model,
        "elapsed_s": round(transcript.elapsed_s, 3),
        "rejected": list(transcript.rejected),
    }
    if live is not None:
        stretches = list(live.stretches)
        asr["incremental"] = {
            "stretches": len(stretches),
            "during_answer_s": round(sum(s.elapsed_s for s in stretches if not s.final), 3),
            "after_answer_s": round(transcript.elapsed_s, 3),
        }
    extra: dict[str, Any] = {"asr": asr}
    delivery = None
    if transcript.text.strip():
        pauses = list(recording.pauses) if recording is not None else None
        delivery, note = compute_delivery(transcript, duration_s, pauses)
        if note:
            extra["delivery_error"] = note
    return delivery, extra


def _cancel_live(live: Any) -> None:
    """Stop an incremental transcriber without waiting for the stretch it
    may be transcribing (that finishes on its own thread, then it ends)."""

    def cancel() -> None:
        try:
            live.cancel()
        except Exception:
            pass

    threading.Thread(target=cancel, name="incremental-cancel", daemon=True).start()


def compute_delivery(
    transcript: Transcript, duration_s: float, pauses: list | None
) -> tuple[dict | None, str | None]:
    """``audio.delivery.compute`` (or ``assess_delivery``) when that module
    exists, as a dict; never raises (delivery is advisory)."""
    try:
        from audio import delivery as _delivery  # type: ignore[attr-defined]
    except ImportError:
        words = len(transcript.text.split())
        minutes = duration_s / 60.0
        return {"words": words, "duration_s": round(duration_s, 2),
                "wpm": round(words / minutes, 1) if minutes > 0 else None}, None
    compute = getattr(_delivery, "compute", None) or getattr(_delivery, "assess_delivery", None)
    if compute is None:
        return None, "delivery metrics are unavailable in this version"
    try:
        result = compute(transcript.text, transcript.segments, pauses=pauses, duration_s=duration_s)
    except Exception as exc:  # never lose the answer over delivery metrics
        return None, f"delivery metrics failed: {exc}"
    if hasattr(result, "to_dict"):
        return result.to_dict(), None
    if isinstance(result, dict):
        return result, None
    try:
        return asdict(result), None
    except TypeError:
        return {"value": str(result)}, None


__all__ = [
    "DRAIN_TIMEOUT_S",
    "GradedAnswer",
    "IllegalTransition",
    "NothingDue",
    "Ports",
    "QuestionResult",
    "SessionEngine",
    "SessionError",
    "SessionSummary",
    "compute_delivery",
    "config_key",
]
