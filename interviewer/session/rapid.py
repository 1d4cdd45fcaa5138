"""Background grading for rapid-fire rounds.

``SessionEngine.defer_answer`` hands each recorded answer to a
``BackgroundGrader`` and asks the next question at once; one worker thread
(``interviewer.session.background``) transcribes and grades the deferred
answers one at a time, in order, through the same pipeline as crash recovery
(``answers.complete_attempt``). A failure keeps the attempt "recorded" (or
"transcribed") with the error noted, so it is offered for recovery later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audio.errors import one_line
from audio.results import Recording
from interviewer.session.answers import complete_attempt
from interviewer.session.background import BackgroundQueue
from interviewer.session.live import cancel_in_background
from interviewer.session.model import Attempt
from interviewer.session.ports import Ports
from interviewer.session.store import INTERRUPTED_STATES, Store
from interviewer.session.summary import QuestionResult, result_for
from questions.assessment import Assessment
from questions.model import Question

if TYPE_CHECKING:
    from audio.incremental import IncrementalTranscriber


@dataclass(frozen=True)
class DeferredAnswer:
    """A recorded answer waiting for the background grader."""

    question: Question
    attempt_id: int
    recording: Recording | None
    live: IncrementalTranscriber | None = None
    """The answer's live transcription when one ran: only its tail is left
    to transcribe."""


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


Review = Callable[[Question, int, Assessment], None]
"""``review(question, attempt_id, assessment)``: records the spaced-repetition review."""


class BackgroundGrader:
    """Grades deferred answers on one worker thread, in the order given."""

    def __init__(
        self,
        store: Store,
        ports: Ports,
        review: Review,
        on_graded: Callable[[GradedAnswer], None] | None = None,
    ) -> None:
        self.store = store
        self.ports = ports
        self._review = review
        self._queue: BackgroundQueue[DeferredAnswer, GradedAnswer] = BackgroundQueue(
            self._grade, on_graded, name="interviewer-grading"
        )
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        """Deferred attempts the worker has not finished (graded or failed)."""
        self.deferred: set[int] = set()
        """Every attempt ever handed over."""

    def submit(self, job: DeferredAnswer) -> None:
        with self._lock:
            self.deferred.add(job.attempt_id)
            self._in_flight.add(job.attempt_id)
        self._queue.submit(job)

    def pending(self) -> int:
        """Deferred answers not graded yet."""
        return self._queue.pending()

    def results(self) -> list[GradedAnswer]:
        """Finished answers, in the order given."""
        return self._queue.results()

    def drain(self, timeout: float | None) -> bool:
        """Wait for every deferred answer; True when none is left."""
        return self._queue.drain(timeout)

    def finish(self, timeout: float | None) -> tuple[int, ...]:
        """Wait for the deferred answers (at most ``timeout`` seconds), then
        stop grading; returns the attempts left ungraded (still "recorded"
        or "transcribed", offered for recovery)."""
        if not self.drain(timeout):
            self.cancel()
        return tuple(
            a for a in sorted(self.deferred)
            if self.store.get_attempt(a).state in INTERRUPTED_STATES
        )

    def busy(self) -> set[int]:
        """Attempts still being graded (none once cancelled)."""
        if self._queue.closed:
            return set()
        with self._lock:
            return set(self._in_flight)

    def cancel(self) -> list[int]:
        """Stop grading deferred answers that have not started (the one being
        graded finishes): they stay "recorded" and are offered for recovery.
        Returns the attempt ids left ungraded."""
        jobs = self._queue.close()
        with self._lock:
            for job in jobs:
                self._in_flight.discard(job.attempt_id)
        for job in jobs:
            if job.live is not None:
                cancel_in_background(job.live)
        return [job.attempt_id for job in jobs]

    def _grade(self, job: DeferredAnswer) -> GradedAnswer:
        """Runs on the worker thread: transcribe and grade one answer; a
        failure becomes a ``GradedAnswer`` with the error, never an exception."""
        try:
            attempt = self.store.get_attempt(job.attempt_id)
            graded, assessment = complete_attempt(
                self.store, job.question, self.ports.transcriber, self.ports.grader, attempt,
                recording=job.recording, live=job.live, notes={"background": True},
            )
            self._review(job.question, graded.id, assessment)
            return GradedAnswer(
                result=result_for(job.question, graded),
                transcript=graded.transcript or "",
                assessment=assessment,
                attempt=graded,
            )
        except Exception as exc:
            return self._failed(job, one_line(exc))
        finally:
            with self._lock:
                self._in_flight.discard(job.attempt_id)

    def _failed(self, job: DeferredAnswer, line: str) -> GradedAnswer:
        """Note the error on the attempt, which stays recoverable."""
        try:
            kept: Attempt | None = self.store.update_attempt(job.attempt_id, error=line)
        except Exception:
            kept = None
        if kept is not None:
            result = result_for(job.question, kept)
        else:
            result = QuestionResult(
                job.question.id, job.question.prompt, None, None, "recorded",
                attempt_id=job.attempt_id,
            )
        return GradedAnswer(result=result, error=line, attempt=kept)


__all__ = ["BackgroundGrader", "DeferredAnswer", "GradedAnswer"]
