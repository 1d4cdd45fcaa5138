"""Messages the screens' thread workers post back to the UI thread.

Each is a dataclass named in the past tense: something the engine did. Workers
only ever ``post_message`` these (the one thread-safe call); handlers on the
UI thread render them. The high-rate microphone level coalesces so a burst of
levels never floods the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from interviewer.session.followup import Probe, QuestionGrade
    from interviewer.session.model import Attempt
    from interviewer.session.summary import SessionSummary
    from questions.assessment import Assessment
    from questions.model import Question


@dataclass
class SessionStarted(Message):
    """The engine created the session row and chose the questions."""

    session_id: int
    count: int


@dataclass
class SessionFailed(Message):
    """The session could not start (nothing due, no matching question...)."""

    notice: str


@dataclass
class ModelsLoaded(Message, bubble=False):
    """The background load of speech parts finished (or degraded)."""

    notices: tuple[str, ...] = ()
    """One line per unavailable part (typed answers always work)."""


@dataclass
class LoadProgressed(Message, bubble=False):
    """One step of the background load is done."""

    step: str
    fraction: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgressed)


@dataclass
class QuestionAsked(Message):
    """A new question is current (before it is spoken)."""

    index: int
    total: int
    question: Question
    time_limit_s: float | None = None

    @property
    def question_id(self) -> str:
        return self.question.id

    @property
    def prompt(self) -> str:
        return self.question.prompt


@dataclass
class QuestionSpoken(Message):
    """Speaking the question ended; ``notice`` is set when it was shown only."""

    question_id: str
    notice: str | None = None


@dataclass
class AnswerStarted(Message):
    """The attempt row exists and the microphone is open."""

    attempt_id: int


@dataclass
class MicrophoneMissing(Message):
    """No input device: the turn falls back to a typed answer."""

    notice: str


@dataclass
class LevelChanged(Message):
    """The microphone level in [0, 1]; bursts coalesce to the newest."""

    level: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LevelChanged)


@dataclass
class AnswerRecorded(Message):
    """Recording stopped (by the user, silence, the limit or the clock)."""

    question_id: str
    duration_s: float
    stopped_by: str = "user"
    speech_detected: bool = True
    error: str | None = None


@dataclass
class TranscriptUpdated(Message):
    """More of the answer was recognised while it is still being spoken;
    ``text`` is everything recognised so far. Bursts coalesce to the newest."""

    question_id: str
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TranscriptUpdated)


@dataclass
class TranscriptReady(Message):
    """The recogniser returned the answer's text."""

    question_id: str
    text: str
    elapsed_s: float = 0.0


@dataclass
class AnswerScored(Message):
    """The answer is graded and stored."""

    question_id: str
    answer: str
    assessment: Assessment
    attempt_id: int | None = None
    typed: bool = False
    answer_time_s: float | None = None
    delivery: dict | None = None
    background: bool = False
    """Graded in the background while a later question was asked (rapid rounds)."""
    grade: QuestionGrade | None = None
    """The question's grade with its follow-ups (practice), when there were any."""


@dataclass
class FollowUpAsked(Message):
    """The engine began a follow-up: the interviewer probes a key point the
    answer left out (its probe is spoken next, like a question)."""

    question_id: str
    probe: Probe


@dataclass
class AnswerDeferred(Message):
    """Rapid rounds: the answer went to the background grader; the next
    question follows at once."""

    question_id: str
    attempt_id: int


@dataclass
class GradingFailed(Message):
    """A background grade failed; the answer is kept for recovery."""

    question_id: str
    attempt_id: int | None
    notice: str


@dataclass
class RoundGrading(Message):
    """The last question is done; the summary waits for ``pending`` answers."""

    pending: int
    total: int


@dataclass
class AnswerSkipped(Message):
    question_id: str


@dataclass
class SessionFinished(Message):
    """No questions left; the engine summarised the session."""

    summary: SessionSummary | None = None


@dataclass
class RegradeProgressed(Message):
    """Re-grading old attempts with the current matcher."""

    done: int
    total: int
    changed: int = 0

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RegradeProgressed)


@dataclass
class AttemptsLoaded(Message):
    """Rows for the review table, read from the store off the UI thread."""

    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Regraded(Message):
    """A corrected transcript was graded again (the feedback screen)."""

    answer: str
    assessment: Assessment
    grade: QuestionGrade | None = None


@dataclass
class PlaybackEnded(Message):
    notice: str | None = None
