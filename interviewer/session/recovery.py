"""Answers a crash left behind: an attempt interrupted while it was being
recorded, transcribed or graded keeps its audio on disk and is offered at the
next start; ``recover_attempt`` transcribes and grades it from the file
through the answer pipeline (``interviewer.session.answers``). A follow-up
reply cut off the same way is recovered like an answer: its attempt is
offered, and recovering it grades the reply and recombines the score."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from interviewer.session.answers import complete_attempt, complete_followup
from interviewer.session.model import Attempt
from interviewer.session.ports import Ports
from interviewer.session.store import INTERRUPTED_STATES, Store, StoreError
from questions.model import Bank

if TYPE_CHECKING:
    from interviewer.session.scheduler import ReviewScheduler


def interrupted_attempts(store: Store, bank: Bank, *, busy: Collection[int] = ()) -> list[Attempt]:
    """Attempts of ``bank`` left "recording", "recorded" or "transcribed",
    with audio on disk, or whose follow-up a crash cut off, oldest first;
    ``busy`` ones (still being graded in the background) are left out."""
    found = {a.id: a for a in store.interrupted_attempts()}
    for f in store.interrupted_followups():
        if f.attempt_id not in found:
            found[f.attempt_id] = store.get_attempt(f.attempt_id)
    return sorted(
        (
            a
            for a in found.values()
            if store.attempt_bank(a.id) in (None, bank.name)
            and a.question_id in bank
            and a.id not in busy
        ),
        key=lambda a: (a.started_at, a.id),
    )


def recover_attempt(
    store: Store,
    bank: Bank,
    ports: Ports,
    attempt_id: int,
    *,
    scheduler: ReviewScheduler | None = None,
) -> Attempt:
    """Transcribe and grade an interrupted attempt, or its interrupted
    follow-up replies, from the audio files (``extra["recovered"]``);
    ``scheduler`` records the review of the answer's own grade."""
    attempt = store.get_attempt(attempt_id)
    replies = [f for f in store.interrupted_followups() if f.attempt_id == attempt_id]
    if attempt.state not in INTERRUPTED_STATES and not replies:
        raise StoreError(f"attempt {attempt_id} is {attempt.state}, not interrupted")
    question = bank.get(attempt.question_id)
    graded = attempt
    if attempt.state in INTERRUPTED_STATES:
        if not attempt.audio_path or not Path(attempt.audio_path).exists():
            raise StoreError(f"attempt {attempt_id} has no audio left to transcribe")
        graded, assessment = complete_attempt(
            store, question, ports.transcriber, ports.grader, attempt, notes={"recovered": True}
        )
        if scheduler is not None and assessment.score is not None:
            scheduler.record(question.id, assessment.score, attempt_id=attempt.id)
    for reply in replies:
        graded = complete_followup(
            store, question, ports.transcriber, ports.grader, reply, notes={"recovered": True}
        )
    return graded


__all__ = ["interrupted_attempts", "recover_attempt"]
