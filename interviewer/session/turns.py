"""A turn is what the engine's answer steps act on: the question's own
answer (``AnswerTurn``) or a follow-up's reply
(``interviewer.session.followup.FollowUpTurn``). Both keep their row in the
store through the answer pipeline (``interviewer.session.answers``); the
engine only decides when a step is legal and calls the same methods on
whichever turn is current (``Turn``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from audio.errors import AudioError
from audio.results import Recording
from interviewer.config import Settings
from interviewer.session import answers
from interviewer.session.followup import (
    FollowUpTurn,
    Probe,
    QuestionGrade,
    attempt_grade,
    next_probe,
)
from interviewer.session.model import Attempt, AttemptState, Mode
from interviewer.session.ports import Grader, Speaker
from interviewer.session.store import Store
from questions.assessment import Assessment
from questions.model import Question

NO_SPEECH = "speech output is unavailable: read the question on screen"


def speak(speaker: Speaker | None, text: str, cancel: threading.Event | None) -> str | None:
    """Read ``text`` aloud: None when spoken (or cancelled), else a one-line
    notice saying why not (the text is on screen)."""
    if speaker is None:
        return NO_SPEECH
    try:
        speaker.speak(text, cancel)
    except AudioError as exc:
        return str(exc) or NO_SPEECH
    return None


def prepare(speaker: Speaker | None, *texts: str) -> None:
    """Have ``texts`` rendered in the background, ahead of their ``speak``
    (the next question while this one is answered, a probe while the
    feedback is read), so that they start at once. Never raises."""
    if speaker is not None:
        for text in texts:
            if text.strip():
                speaker.prepare(text)


class Turn(Protocol):
    """One thing the person answers: spoken (open, recorded, transcribed),
    typed, or closed without a grade."""

    @property
    def spoken_text(self) -> str:
        """What the interviewer reads aloud."""

    @property
    def live_key(self) -> str:
        """Names the live transcription of this turn's recording."""

    @property
    def opened(self) -> bool:
        """A row exists for this turn (recording started or typed)."""

    def open(self) -> Path:
        """Create the row (state "recording") and return where the audio goes."""

    def start_failed(self, error: str) -> None:
        """The recorder did not start."""

    def stop_failed(self, error: str) -> None:
        """The recorder failed to stop: what it wrote is kept ("recorded")."""

    def recorded(self, rec: Recording, *, timed_out: bool, answer_time_s: float) -> None: ...

    def transcribed(self, done: answers.Transcribed, *, current: bool) -> None:
        """Keep the transcript; not ``current`` (skipped or finished
        meanwhile): keep the text, not the state change."""

    def typed(self, text: str, *, timed_out: bool, answer_time_s: float) -> None: ...

    def grade(self, grader: Grader | None, text: str | None) -> Assessment: ...

    def close(self, state: AttemptState, *, record_unasked: bool) -> None:
        """End without a grade (``state``: "skipped"); ``record_unasked``
        stores a turn never answered too, where that means something."""


class AnswerTurn:
    """The question's own answer: its attempt row."""

    def __init__(
        self,
        store: Store,
        question: Question,
        *,
        session_id: int | None,
        bank: str,
        mode: Mode,
        review: Callable[[Question, int, Assessment], None],
    ) -> None:
        self.store = store
        self.question = question
        self.session_id = session_id
        self.bank = bank
        self.mode = mode
        self._review = review
        self.attempt: Attempt | None = None
        """The answer's attempt, as last stored."""
        self.assessment: Assessment | None = None
        """The answer's last grade."""
        self.probed: list[int] = []
        """Key points its follow-ups asked about, in order."""

    @property
    def spoken_text(self) -> str:
        return self.question.spoken_text

    @property
    def live_key(self) -> str:
        return "" if self.attempt is None else str(self.attempt.id)

    @property
    def opened(self) -> bool:
        return self.attempt is not None

    def open(self) -> Path:
        self.attempt = self.store.begin_attempt(
            self.question.id, session_id=self.session_id, bank=self.bank,
            extra={"mode": self.mode},
        )
        assert self.attempt.audio_path is not None
        return Path(self.attempt.audio_path)

    def start_failed(self, error: str) -> None:
        if self.attempt is not None:
            self.store.update_attempt(self.attempt.id, state="failed", error=error)
        self.attempt = None

    def stop_failed(self, error: str) -> None:
        assert self.attempt is not None
        self.attempt = self.store.update_attempt(self.attempt.id, state="recorded", error=error)

    def recorded(self, rec: Recording, *, timed_out: bool, answer_time_s: float) -> None:
        assert self.attempt is not None
        self.attempt = answers.store_recording(
            self.store, self.attempt, rec, timed_out=timed_out, answer_time_s=answer_time_s
        )

    def transcribed(self, done: answers.Transcribed, *, current: bool) -> None:
        if self.attempt is None:
            return
        if current:
            self.attempt = answers.store_transcript(self.store, self.attempt, done)
        else:
            self.attempt = self.store.update_attempt(
                self.attempt.id, transcript=done.transcript.text, delivery=done.delivery
            )

    def typed(self, text: str, *, timed_out: bool, answer_time_s: float) -> None:
        """A typed answer; typing while recording keeps that recording as a
        "skipped" attempt."""
        self.close("skipped", record_unasked=False)
        self.attempt = answers.store_typed(
            self.store, self.question.id, text, session_id=self.session_id, bank=self.bank,
            mode=self.mode, timed_out=timed_out, answer_time_s=answer_time_s,
        )

    def grade(self, grader: Grader | None, text: str | None) -> Assessment:
        """Grade (or re-grade) the answer and record the spaced-repetition review."""
        assert self.attempt is not None
        attempt_id = self.attempt.id
        self.attempt, self.assessment = answers.grade_and_record(
            self.store, self.question, self.attempt, grader, text=text
        )
        self._review(self.question, attempt_id, self.assessment)
        return self.assessment

    def next_probe(self, settings: Settings) -> Probe | None:
        """The follow-up due once the answer is graded, or None."""
        if self.attempt is None or self.attempt.state != "graded":
            return None
        return next_probe(self.question, self.assessment, settings, self.mode, self.probed)

    def question_grade(self) -> QuestionGrade | None:
        """The answer's grade with its follow-ups (None before it is graded)."""
        if self.attempt is None:
            return None
        return attempt_grade(self.store, self.question, self.attempt)

    def follow_up(self, probe: Probe, share: float) -> FollowUpTurn:
        """The turn of the follow-up ``probe`` (``share``: its credit setting)."""
        assert self.attempt is not None
        self.probed.append(probe.index)
        return FollowUpTurn(self.store, self.question, probe, self.attempt.id, share)

    def close(self, state: AttemptState, *, record_unasked: bool) -> None:
        if self.attempt is not None and self.attempt.state not in ("graded", "skipped", "failed"):
            self.attempt = self.store.update_attempt(self.attempt.id, state=state)


__all__ = ["NO_SPEECH", "AnswerTurn", "Turn", "speak"]
