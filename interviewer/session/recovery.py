"""Answers a crash left behind: an attempt interrupted while it was being
recorded, transcribed or graded keeps its audio on disk and is offered at the
next start; ``recover_attempt`` transcribes and grades it from the file
through the answer pipeline (``interviewer.session.answers``)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from interviewer.session.answers import complete_attempt
from interviewer.session.model import Attempt
from interviewer.session.ports import Ports
from interviewer.session.store import INTERRUPTED_STATES, Store, StoreError
from questions.model import Bank

if TYPE_CHECKING:
    from interviewer.session.scheduler import ReviewScheduler


def interrupted_attempts(store: Store, bank: Bank, *, busy: Collection[int] = ()) -> list[Attempt]:
    """Attempts of ``bank`` left "recording", "recorded" or "transcribed",
    with audio on disk, oldest first; ``busy`` ones (still being graded in
    the background) are left out."""
    return [
        a
        for a in store.interrupted_attempts()
        if store.attempt_bank(a.id) in (None, bank.name)
        and a.question_id in bank
        and a.id not in busy
    ]


def recover_attempt(
    store: Store,
    bank: Bank,
    ports: Ports,
    attempt_id: int,
    *,
    scheduler: ReviewScheduler | None = None,
) -> Attempt:
    """Transcribe and grade an interrupted attempt from its audio file
    (``extra["recovered"]``); ``scheduler`` records the review."""
    attempt = store.get_attempt(attempt_id)
    if attempt.state not in INTERRUPTED_STATES:
        raise StoreError(f"attempt {attempt_id} is {attempt.state}, not interrupted")
    if not attempt.audio_path or not Path(attempt.audio_path).exists():
        raise StoreError(f"attempt {attempt_id} has no audio left to transcribe")
    question = bank.get(attempt.question_id)
    graded, assessment = complete_attempt(
        store, question, ports.transcriber, ports.grader, attempt, notes={"recovered": True}
    )
    if scheduler is not None and assessment.score is not None:
        scheduler.record(question.id, assessment.score, attempt_id=attempt.id)
    return graded


__all__ = ["interrupted_attempts", "recover_attempt"]
