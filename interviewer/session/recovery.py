"""Finishing attempts after the fact: an answer interrupted by a crash
(left "recording"/"recorded" with its audio on disk) is transcribed and
graded later; any stored attempt can be graded again, keeping the earlier
grade in its history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from interviewer.session.model import Attempt
from interviewer.session.store import INTERRUPTED_STATES, Store, StoreError
from questions.assessment import Assessment
from questions.model import Bank, Question

if TYPE_CHECKING:
    from audio.results import Recording
    from interviewer.session.engine import Ports
    from interviewer.session.ports import Grader, Transcriber
    from interviewer.session.scheduler import ReviewScheduler


def recover_attempt(
    store: Store,
    bank: Bank,
    ports: Ports,
    attempt_id: int,
    *,
    scheduler: ReviewScheduler | None = None,
) -> Attempt:
    """Transcribe and grade an interrupted attempt from its audio file."""
    attempt = store.get_attempt(attempt_id)
    if attempt.state not in INTERRUPTED_STATES:
        raise StoreError(f"attempt {attempt_id} is {attempt.state}, not interrupted")
    if not attempt.audio_path or not Path(attempt.audio_path).exists():
        raise StoreError(f"attempt {attempt_id} has no audio left to transcribe")
    question = bank.get(attempt.question_id)
    graded, _ = complete_attempt(
        store, question, ports.transcriber, ports.grader, attempt,
        notes={"recovered": True}, scheduler=scheduler,
    )
    return graded


def complete_attempt(
    store: Store,
    question: Question,
    transcriber: Transcriber | None,
    grader: Grader | None,
    attempt: Attempt,
    *,
    recording: Recording | None = None,
    notes: dict | None = None,
    scheduler: ReviewScheduler | None = None,
) -> tuple[Attempt, Assessment]:
    """Transcribe (unless already transcribed) and grade a recorded attempt
    from its audio file: state "transcribed", then "graded". Used for
    recovery after a crash and for answers graded in the background.
    ``recording`` (when known) gives voice activity and pauses; ``notes``
    go into the attempt's ``extra``; ``scheduler`` records the review."""
    from interviewer.session.engine import _grader_or_default, _name_of, _transcribe

    if attempt.state == "transcribed" and attempt.transcript is not None:
        # killed while the grade was being saved: the transcript is already kept
        no_speech = not attempt.transcript.strip()
        text = attempt.transcript
    else:
        assert attempt.audio_path is not None
        transcript, delivery, extra = _transcribe(
            transcriber, question, Path(attempt.audio_path), recording
        )
        from audio.clip import read_audio

        duration = attempt.duration_s or read_audio(attempt.audio_path).duration_s
        no_speech = not transcript.text.strip()
        text = transcript.text
        store.update_attempt(
            attempt.id,
            state="transcribed",
            duration_s=duration,
            transcript=transcript.text,
            delivery=delivery,
            extra={**attempt.extra, **extra, "no_speech": no_speech, **(notes or {})},
        )
    if no_speech:
        assessment = Assessment(score=None, no_speech=True)
        name = "none"
    else:
        chosen = _grader_or_default(grader)
        assessment = chosen(question, text)
        name = _name_of(chosen)
    graded = store.record_grade(
        attempt.id, score=assessment.score, assessment=assessment.to_dict(), grader=name
    )
    if scheduler is not None and assessment.score is not None:
        scheduler.record(question.id, assessment.score, attempt_id=attempt.id)
    return graded, assessment


def regrade_attempt(
    store: Store, bank: Bank, grader: Grader, attempt_id: int, *, text: str | None = None
) -> Attempt:
    """Grade a stored attempt again. ``text`` replaces the transcript (a hand
    correction, marked ``transcript_edited``); the previous score and
    assessment move to ``store.grade_history(attempt_id)``. Spaced-repetition
    state is not changed (the review already happened)."""
    from interviewer.session.engine import _name_of

    attempt = store.get_attempt(attempt_id)
    if attempt.state not in ("graded", "transcribed"):
        raise StoreError(f"attempt {attempt_id} is {attempt.state}: nothing to grade yet")
    question = bank.get(attempt.question_id)
    answer = (attempt.transcript or "") if text is None else text
    if answer.strip():
        assessment = grader(question, answer)
        name = _name_of(grader)
    else:
        assessment = Assessment(score=None, no_speech=True)
        name = "none"
    edited = text is not None and not attempt.typed and text != (attempt.transcript or "")
    return store.record_grade(
        attempt_id,
        score=assessment.score,
        assessment=assessment.to_dict(),
        transcript=text,
        transcript_edited=True if edited else None,
        grader=name,
    )
