"""The answer pipeline: transcribe, measure delivery, grade, record.

Every way an answer reaches the store goes through here, so every path
stores the same fields the same way:

- a live answer (``SessionEngine.transcribe`` then ``grade``) and a typed
  one (``SessionEngine.submit_typed``);
- a rapid-round answer graded in the background and an answer left behind
  by a crash (``complete_attempt``);
- a re-grade of a stored attempt, one or many, with a hand-corrected
  transcript or without (``regrade_attempt``, ``regrade_attempts``);
- a follow-up reply, spoken, typed or left by a crash (``store_followup_*``,
  ``grade_followup``, ``complete_followup``), after which the attempt's
  combined score is worked out again (``recombine``).

The rules, in one place:

- the stored ``grader`` is the name of the function that graded
  (``grader_name``), or "none" when there was nothing to grade (no speech);
- ``transcript_edited`` is set only when the text of a spoken answer was
  changed by hand; correcting a typed answer replaces its text but is not an
  edited transcript;
- a new grade never overwrites an earlier one: ``Store.record_grade`` moves
  it (with its follow-ups' grades) to the attempt's grade history;
- an attempt's ``score`` is the combined one: its own grade plus what its
  follow-ups recovered (``questions.followup``); ``unprompted_score`` is its
  own grade. Every grade of the answer or of a follow-up recombines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio.errors import one_line
from audio.results import Recording, Transcript
from interviewer.config import Settings
from interviewer.session.errors import NoRecogniser
from interviewer.session.live import cancel_in_background, finish_live
from interviewer.session.model import Attempt, FollowUp
from interviewer.session.ports import Grader, Transcriber
from interviewer.session.store import Store, StoreError
from questions.assessment import Assessment
from questions.followup import Recovery, combine
from questions.model import Bank, Question

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from audio.incremental import IncrementalTranscriber

NO_GRADER = "none"
"""The ``grader`` stored when there was nothing to grade (no speech)."""


@dataclass(frozen=True)
class Transcribed:
    """A transcribed answer and what is stored with it."""

    transcript: Transcript
    delivery: dict[str, Any] | None = None
    """Pace, fillers and pauses; None without speech or when they failed."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Keys for the attempt's ``extra``: ``asr`` (engine, model, timings),
    ``delivery_error``, ``asr_incremental_failed``."""

    @property
    def no_speech(self) -> bool:
        return not self.transcript.text.strip()


# -- graders ------------------------------------------------------------------------


def default_grader() -> Grader:
    """``questions.grade_question`` (imported when first needed)."""
    from questions import grade_question

    return grade_question


def grader_or_default(grader: Grader | None) -> Grader:
    return grader if grader is not None else default_grader()


def grader_name(grader: Grader) -> str:
    """``module.qualname`` of a grading function (or of a grader object's class)."""
    name = getattr(grader, "__qualname__", None) or type(grader).__qualname__
    module = getattr(grader, "__module__", "") or ""
    return f"{module}.{name}" if module else name


# -- the attempt's row before it is graded --------------------------------------------


def store_recording(
    store: Store, attempt: Attempt, recording: Recording, *, timed_out: bool, answer_time_s: float
) -> Attempt:
    """Keep what the recorder reports about a finished answer: state
    "recorded"; the WAV file is made readable by its owner only."""
    keep_private(recording.path)
    return store.update_attempt(
        attempt.id,
        state="recorded",
        duration_s=recording.duration_s,
        answer_time_s=answer_time_s,
        error=recording.error,
        extra={**attempt.extra, **_recorder_notes(recording, timed_out)},
    )


def _recorder_notes(recording: Recording, timed_out: bool) -> dict[str, Any]:
    stopped_by = "limit" if timed_out and recording.stopped_by == "user" else recording.stopped_by
    return {
        "stopped_by": stopped_by,
        "speech_detected": recording.speech_detected,
        "pauses": [list(p) for p in recording.pauses],
        "timed_out": timed_out,
    }


def store_typed(
    store: Store,
    question_id: str,
    text: str,
    *,
    session_id: int | None,
    bank: str,
    mode: str,
    timed_out: bool,
    answer_time_s: float,
) -> Attempt:
    """A typed answer's row: state "transcribed", the text as its transcript."""
    attempt = store.begin_attempt(
        question_id,
        session_id=session_id,
        bank=bank,
        state="transcribed",
        typed=True,
        extra={"mode": mode, "timed_out": timed_out},
    )
    return store.update_attempt(attempt.id, transcript=text, answer_time_s=answer_time_s)


# -- transcribe and measure -----------------------------------------------------------


def speech_of(recording: Recording) -> list[tuple[float, float]] | None:
    """The stretches of speech the recorder's voice activity detector found,
    or None when it found none (then the recogniser's segments time the answer)."""
    segments = recording.extra.get("segments")
    if segments:
        return [(float(s), float(e)) for s, e in segments]
    start, end = recording.speech_start_s, recording.speech_end_s
    if start is None or end is None or end <= start:
        return None
    edges = [start, *(t for p in sorted(recording.pauses) for t in p), end]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]


def compute_delivery(
    transcript: Transcript,
    duration_s: float,
    pauses: list[tuple[float, float]] | None,
    speech: list[tuple[float, float]] | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Delivery metrics as a dict, or None and why; never raises (delivery
    is advisory: an answer is never lost over it). ``speech``: voice
    activity, which times the answer when given."""
    from audio.delivery import assess_delivery

    try:
        delivery = assess_delivery(
            transcript.text, transcript.segments, pauses=pauses, duration_s=duration_s,
            speech=speech,
        )
    except Exception as exc:
        return None, f"delivery metrics failed: {one_line(exc)}"
    return delivery.to_dict(), None


def delivery_and_asr_notes(
    transcript: Transcript,
    duration_s: float,
    recording: Recording | None,
    live: IncrementalTranscriber | None = None,
    speech: list[tuple[float, float]] | None = None,
) -> Transcribed:
    """Delivery metrics and the ``extra`` notes of a transcript (``live``:
    the incremental transcriber that produced it; ``speech``: voice activity
    of the audio when there is no ``recording`` to take it from)."""
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
    notes: dict[str, Any] = {"asr": asr}
    delivery = None
    if transcript.text.strip():
        pauses = list(recording.pauses) if recording is not None else None
        if recording is not None:
            speech = speech_of(recording)
        delivery, problem = compute_delivery(transcript, duration_s, pauses, speech)
        if problem:
            notes["delivery_error"] = problem
    return Transcribed(transcript, delivery, notes)


def transcribe_recording(
    transcriber: Transcriber | None,
    question: Question,
    wav: Path,
    recording: Recording | None,
) -> Transcribed:
    """Transcribe the answer's WAV file (no speech detected: an empty
    transcript without calling the recogniser)."""
    if recording is not None and not recording.speech_detected:
        return Transcribed(Transcript(text="", duration_s=recording.duration_s))
    if transcriber is None:
        raise NoRecogniser(
            "speech recognition is unavailable; type the answer or run 'interviewer doctor'"
        )
    from audio.clip import read_audio

    clip = read_audio(wav)
    transcript = transcriber.transcribe(clip, hint=question.recogniser_hint())
    speech = None if recording is not None else voice_activity(clip.samples)
    return delivery_and_asr_notes(transcript, clip.duration_s, recording, speech=speech)


def voice_activity(samples: Any) -> list[tuple[float, float]] | None:
    """Stretches of speech in a whole clip (an answer read back from its
    file), or None when the detector is unavailable or found none."""
    try:
        from audio.vad import speech_segments

        return speech_segments(samples) or None
    except Exception:
        return None


def transcribe_answer(
    transcriber: Transcriber | None,
    question: Question,
    recording: Recording,
    live: IncrementalTranscriber | None,
) -> Transcribed:
    """The answer's transcript: from its live transcription when one ran
    (only the tail is left), else, or when that failed, from the file (the
    reason is noted as ``asr_incremental_failed``)."""
    reason = None
    if live is not None and recording.speech_detected:
        transcript, reason = finish_live(live, recording)
        if transcript is not None:
            return delivery_and_asr_notes(transcript, recording.duration_s, recording, live)
    elif live is not None:
        cancel_in_background(live)
    done = transcribe_recording(transcriber, question, Path(recording.path), recording)
    if reason is not None:
        done.notes["asr_incremental_failed"] = reason
    return done


def store_transcript(
    store: Store,
    attempt: Attempt,
    done: Transcribed,
    *,
    duration_s: float | None = None,
    notes: dict[str, Any] | None = None,
) -> Attempt:
    """Keep the transcript: state "transcribed" (``notes`` go into ``extra``)."""
    changes: dict[str, Any] = {}
    if duration_s is not None:
        changes["duration_s"] = duration_s
    return store.update_attempt(
        attempt.id,
        state="transcribed",
        transcript=done.transcript.text,
        delivery=done.delivery,
        extra={**attempt.extra, **done.notes, "no_speech": done.no_speech, **(notes or {})},
        **changes,
    )


# -- grade and record -----------------------------------------------------------------


def grade_and_record(
    store: Store,
    question: Question,
    attempt: Attempt,
    grader: Grader | None,
    *,
    text: str | None = None,
) -> tuple[Attempt, Assessment]:
    """Grade the attempt's transcript, or ``text`` when given (a hand
    correction, which replaces the transcript), and store the grade; the
    earlier grade, if any, moves to the grade history. An empty answer is
    no speech: never sent to the grader."""
    stored = attempt.transcript or ""
    answer = stored if text is None else text
    if not answer.strip():
        assessment = Assessment(score=None, no_speech=True)
        name = NO_GRADER
    else:
        chosen = grader_or_default(grader)
        assessment = chosen(question, answer)
        name = grader_name(chosen)
    edited = text is not None and not attempt.typed and text != stored
    graded = store.record_grade(
        attempt.id,
        score=assessment.score,
        assessment=assessment.to_dict(),
        transcript=text,
        transcript_edited=True if edited else None,
        grader=name,
    )
    if store.followups(attempt.id):
        graded = recombine(store, question, attempt.id)
    return graded, assessment


def complete_attempt(
    store: Store,
    question: Question,
    transcriber: Transcriber | None,
    grader: Grader | None,
    attempt: Attempt,
    *,
    recording: Recording | None = None,
    live: IncrementalTranscriber | None = None,
    notes: dict[str, Any] | None = None,
) -> tuple[Attempt, Assessment]:
    """Transcribe (unless already transcribed) and grade a recorded attempt:
    state "transcribed", then "graded". For answers graded in the background
    (``recording`` gives voice activity and pauses, ``live`` the answer's
    live transcription) and after a crash (from the file). ``notes`` go into
    the attempt's ``extra``."""
    if attempt.state != "transcribed" or attempt.transcript is None:
        assert attempt.audio_path is not None
        if recording is not None:
            done = transcribe_answer(transcriber, question, recording, live)
            duration = attempt.duration_s or recording.duration_s
        else:
            done = transcribe_recording(transcriber, question, Path(attempt.audio_path), None)
            duration = attempt.duration_s or _file_duration(attempt.audio_path)
        attempt = store_transcript(store, attempt, done, duration_s=duration, notes=notes)
    # else killed while the grade was being saved: the transcript is already kept
    return grade_and_record(store, question, attempt, grader)


def regrade_attempt(
    store: Store, bank: Bank, grader: Grader | None, attempt_id: int, *, text: str | None = None
) -> tuple[Attempt, Assessment]:
    """Grade a stored attempt again, with ``grader`` (None: the default) and
    ``text`` when given (a hand correction, which replaces the transcript).
    A plain re-grade needs a transcript; spaced-repetition state is not
    changed (the review already happened)."""
    attempt = store.get_attempt(attempt_id)
    if text is None and attempt.state not in ("graded", "transcribed"):
        raise StoreError(f"attempt {attempt_id} is {attempt.state}: nothing to grade yet")
    if attempt.question_id not in bank:
        raise StoreError(f"question {attempt.question_id!r} is not in bank {bank.name!r}")
    question = bank.get(attempt.question_id)
    graded, assessment = grade_and_record(store, question, attempt, grader, text=text)
    replies = [f for f in store.followups(attempt_id) if f.state == "graded"]
    for followup in replies:  # the follow-ups are graded again too
        grade_followup(store, question, followup, grader)
    if replies:
        graded = recombine(store, question, attempt_id)
    return graded, assessment


def regrade_attempts(
    store: Store, bank: Bank, grader: Grader | None, attempt_ids: Iterable[int]
) -> Iterator[bool]:
    """Re-grade each stored transcript in turn, yielding whether its score
    changed. Attempts without a transcript or whose question is not in
    ``bank`` are passed over (False). Stop iterating to stop re-grading."""
    for attempt_id in attempt_ids:
        attempt = store.get_attempt(attempt_id)
        if attempt.question_id not in bank or not attempt.transcript:
            yield False
            continue
        graded, _ = regrade_attempt(store, bank, grader, attempt_id)
        yield graded.score != attempt.score


# -- follow-ups ---------------------------------------------------------------------


def store_followup_recording(
    store: Store, followup: FollowUp, recording: Recording, *, timed_out: bool, answer_time_s: float
) -> FollowUp:
    """Keep what the recorder reports about a follow-up reply: state "recorded"."""
    keep_private(recording.path)
    return store.update_followup(
        followup.id,
        state="recorded",
        duration_s=recording.duration_s,
        answer_time_s=answer_time_s,
        error=recording.error,
        extra={**followup.extra, **_recorder_notes(recording, timed_out)},
    )


def store_followup_transcript(
    store: Store,
    followup: FollowUp,
    done: Transcribed,
    *,
    duration_s: float | None = None,
    notes: dict[str, Any] | None = None,
) -> FollowUp:
    """Keep a follow-up reply's transcript: state "transcribed"; its delivery
    figures go into ``extra`` (``delivery``)."""
    changes: dict[str, Any] = {} if duration_s is None else {"duration_s": duration_s}
    extra = {**followup.extra, **done.notes, "no_speech": done.no_speech, **(notes or {})}
    if done.delivery is not None:
        extra["delivery"] = done.delivery
    return store.update_followup(
        followup.id, state="transcribed", transcript=done.transcript.text, extra=extra, **changes
    )


def grade_followup(
    store: Store, question: Question, followup: FollowUp, grader: Grader | None, *,
    text: str | None = None,
) -> tuple[FollowUp, Assessment]:
    """Grade a follow-up reply (its transcript, or ``text``, which replaces
    it) against the question's whole rubric and store the grade; only the
    probed point and the misconceptions count (``recombine``). An empty
    reply is no speech: never sent to the grader. Call ``recombine`` after."""
    answer = (followup.transcript or "") if text is None else text
    if not answer.strip():
        assessment, name = Assessment(score=None, no_speech=True), NO_GRADER
    else:
        chosen = grader_or_default(grader)
        assessment, name = chosen(question, answer), grader_name(chosen)
    changes: dict[str, Any] = {"transcript": text} if text is not None else {}
    graded = store.update_followup(
        followup.id, state="graded", grade={"assessment": assessment.to_dict(), "grader": name},
        **changes,
    )
    return graded, assessment


def recombine(store: Store, question: Question, attempt_id: int) -> Attempt:
    """Work out the attempt's combined score again from its own grade and
    its graded follow-ups (``questions.followup.combine``): the attempt's
    ``score`` becomes the combined one, ``unprompted_score`` its own, and
    each follow-up's grade keeps what it recovered. A follow-up whose key
    point is no longer in the question counts for nothing."""
    attempt = store.get_attempt(attempt_id)
    if attempt.assessment is None:
        return attempt
    own = Assessment.from_dict(attempt.assessment)
    texts = [k.text for k in question.key_points]
    graded = [
        f for f in store.followups(attempt_id)
        if f.state == "graded" and f.grade and f.key_point_text in texts
    ]
    default_share = Settings().followup_share
    combined = combine(
        question,
        own,
        [
            (
                texts.index(f.key_point_text),
                Assessment.from_dict(f.grade["assessment"]) if f.grade else None,
                float(f.extra.get("share", default_share)),
            )
            for f in graded
        ],
    )
    for followup, recovery in zip(graded, combined.recoveries, strict=True):
        store.update_followup(followup.id, grade={**(followup.grade or {}), **_outcome(recovery)})
    return store.update_attempt(
        attempt_id, score=combined.score, unprompted_score=combined.unprompted
    )


def _outcome(r: Recovery) -> dict[str, Any]:
    return {
        "before": r.before, "after": r.after, "worth": r.worth, "share": r.share,
        "recovered": r.recovered, "charged": [list(c) for c in r.charged],
    }


def complete_followup(
    store: Store,
    question: Question,
    transcriber: Transcriber | None,
    grader: Grader | None,
    followup: FollowUp,
    *,
    notes: dict[str, Any] | None = None,
) -> Attempt:
    """Transcribe (unless already transcribed) and grade a follow-up reply a
    crash cut off, from its audio file; returns the attempt with its new
    combined score."""
    if followup.state != "transcribed" or followup.transcript is None:
        assert followup.audio_path is not None
        done = transcribe_recording(transcriber, question, Path(followup.audio_path), None)
        duration = followup.duration_s or _file_duration(followup.audio_path)
        followup = store_followup_transcript(store, followup, done, duration_s=duration, notes=notes)
    grade_followup(store, question, followup, grader)
    return recombine(store, question, followup.attempt_id)


def keep_private(path: Path | str) -> None:
    """Make a recording readable by its owner only (best effort)."""
    try:
        Path(path).chmod(0o600)
    except OSError:
        pass


def _file_duration(path: str) -> float:
    from audio.clip import read_audio

    return read_audio(path).duration_s


__all__ = [
    "NO_GRADER",
    "Transcribed",
    "complete_attempt",
    "complete_followup",
    "compute_delivery",
    "default_grader",
    "delivery_and_asr_notes",
    "grade_and_record",
    "grade_followup",
    "grader_name",
    "grader_or_default",
    "keep_private",
    "recombine",
    "regrade_attempt",
    "regrade_attempts",
    "store_followup_recording",
    "store_followup_transcript",
    "store_recording",
    "store_transcript",
    "speech_of",
    "store_typed",
    "transcribe_answer",
    "transcribe_recording",
    "voice_activity",
]
