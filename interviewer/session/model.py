"""Values the session engine and the store exchange (frozen, serialisable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

Mode = Literal["practice", "rapid", "review"]
Order = Literal["random", "sequential", "due", "weakest"]
AttemptState = Literal["recording", "recorded", "transcribed", "graded", "skipped", "failed"]


class Phase(str, Enum):
    """The engine's state machine: ask -> listen -> transcribe -> grade -> feedback -> next."""

    IDLE = "idle"
    ASKING = "asking"
    LISTENING = "listening"
    TRANSCRIBING = "transcribing"
    GRADING = "grading"
    FEEDBACK = "feedback"
    DONE = "done"


@dataclass(frozen=True)
class SessionConfig:
    mode: Mode = "practice"
    bank: str = "llm"
    count: int = 5
    topics: tuple[str, ...] = ()
    difficulty: int | None = None
    order: Order = "random"
    seed: int | None = None
    time_limit_s: float | None = None
    """Hard limit per answer (rapid rounds); None = the settings' max answer length."""
    question_ids: tuple[str, ...] = ()
    """Explicit questions (overrides selection)."""


@dataclass(frozen=True)
class Attempt:
    id: int
    session_id: int | None
    question_id: str
    state: AttemptState
    started_at: str
    """ISO 8601 UTC."""
    audio_path: str | None = None
    duration_s: float | None = None
    transcript: str | None = None
    transcript_edited: bool = False
    typed: bool = False
    score: float | None = None
    """0..1, None when not graded or no speech; with follow-ups, the combined
    score (``questions.followup``)."""
    unprompted_score: float | None = None
    """The answer's own score, before any follow-up."""
    assessment: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    answer_time_s: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Notes kept with the row (JSON): ``mode``; from the recorder
    ``stopped_by``, ``speech_detected``, ``pauses``, ``timed_out``; from the
    recogniser ``asr`` (engine, model, timings, ``incremental`` stretches),
    ``asr_incremental_failed`` (why the file was transcribed instead),
    ``no_speech``, ``delivery_error``; ``grader`` (who graded, see
    ``interviewer.session.answers``); ``background`` and ``recovered`` for
    answers graded after the fact."""


@dataclass(frozen=True)
class FollowUp:
    """One follow-up exchange of an attempt: the probe the interviewer asked
    about a key point the answer left out, and the reply. Its states are an
    answer's (recording -> recorded -> transcribed -> graded, or skipped /
    failed)."""

    id: int
    attempt_id: int
    position: int
    """1 for the first follow-up of the attempt, 2 for the second."""
    key_point: int
    """The probed key point's position in the question's key points."""
    key_point_text: str
    prompt: str
    """The probe, as asked."""
    state: AttemptState
    started_at: str
    audio_path: str | None = None
    duration_s: float | None = None
    transcript: str | None = None
    typed: bool = False
    grade: dict[str, Any] | None = None
    """``assessment`` (the reply graded against the whole rubric), the probed
    point's ``before`` and ``after`` status, ``worth``, ``share``,
    ``recovered`` and ``charged`` misconceptions (see ``questions.followup``)."""
    answer_time_s: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """``share`` (the follow-up credit in force when it was asked), the
    recorder's and recogniser's notes, as for an attempt."""


@dataclass(frozen=True)
class SessionInfo:
    id: int
    mode: Mode
    bank: str
    started_at: str
    ended_at: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
