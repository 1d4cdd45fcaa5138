"""The answer pipeline: every way an answer reaches the store (live, typed,
crash recovery, background grading, re-grading one or all, a hand
correction) stores the same fields the same way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from interviewer.config import Settings
from interviewer.session import answers
from interviewer.session.engine import SessionEngine
from interviewer.session.errors import NoRecogniser
from interviewer.session.model import Attempt, SessionConfig
from interviewer.session.ports import Ports
from interviewer.session.store import Store, StoreError
from questions.model import Bank
from tests.session.fakes import (
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    fixed_grader,
    sample_bank,
)

GRADER = "tests.session.fakes.FakeGrader"
"""What ``grader_name`` calls a ``FakeGrader``: the name every path stores."""


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "attempts.sqlite3")
    yield s
    s.close()


def engine_for(store: Store, *, mode: str = "practice", texts: str | list[str] = "apple anchor",
               speech: bool = True, grader=None, count: int = 1) -> SessionEngine:
    ports = Ports(FakeSpeaker(), FakeRecorder(speech=speech), FakeTranscriber(texts),
                  grader or FakeGrader())
    config = SessionConfig(mode=mode, bank="sample", order="sequential", count=count,
                           time_limit_s=30.0 if mode == "rapid" else None)
    engine = SessionEngine(sample_bank(), store, ports, Settings(), config,
                           clock=FakeClock(), rng=random.Random(1))
    engine.start()
    engine.next_question()
    return engine


def spoken(store: Store, text: str = "apple anchor", **kw) -> Attempt:
    engine = engine_for(store, texts=text, **kw)
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    return store.get_attempt(attempt.id)


def typed(store: Store, text: str = "apple anchor") -> Attempt:
    engine = engine_for(store)
    engine.submit_typed(text)
    assert engine.attempt is not None
    return store.get_attempt(engine.attempt.id)


def background(store: Store, text: str = "apple anchor") -> Attempt:
    engine = engine_for(store, mode="rapid", texts=text)
    engine.start_answer()
    attempt_id = engine.defer_answer()
    engine.finish(wait_s=10)
    return store.get_attempt(attempt_id)


def recovered(store: Store, text: str = "apple anchor") -> Attempt:
    crashed = engine_for(store).start_answer()  # nothing stops it: a crash
    later = engine_for(store, texts=text)
    return later.recover(crashed.id)


def assert_graded_the_same_way(row: Attempt, *, score: float, transcript: str) -> None:
    assert row.state == "graded"
    assert row.extra["grader"] == GRADER
    assert row.score == pytest.approx(score, abs=1e-3)
    assert row.assessment is not None and row.assessment["score"] == row.score
    assert row.transcript == transcript and not row.transcript_edited


@pytest.mark.parametrize("path", [spoken, typed, background, recovered])
def test_every_path_stores_the_grader_score_and_transcript_alike(store, path):
    row = path(store, "apple anchor")
    assert_graded_the_same_way(row, score=2 / 3, transcript="apple anchor")
    assert store.grade_history(row.id) == []


@pytest.mark.parametrize("path", [spoken, background, recovered])
def test_silence_is_no_speech_graded_by_nobody_on_every_spoken_path(store, path):
    kwargs = {"speech": False} if path is spoken else {}
    row = path(store, "", **kwargs)
    assert row.state == "graded" and row.score is None
    assert row.extra["grader"] == answers.NO_GRADER and row.extra["no_speech"]
    assert row.assessment is not None and row.assessment["no_speech"]


@pytest.mark.parametrize("path", [spoken, typed, background, recovered])
def test_regrading_one_attempt_keeps_the_earlier_grade_in_its_history(store, path):
    row = path(store, "apple anchor")
    graded, assessment = answers.regrade_attempt(store, sample_bank(), fixed_grader(0.25), row.id)
    assert graded.score == assessment.score == 0.25
    assert graded.extra["grader"].endswith("fixed_grader.<locals>.grade")
    assert graded.transcript == "apple anchor" and not graded.transcript_edited
    history = store.grade_history(row.id)
    assert [(h["score"], h["grader"], h["transcript"]) for h in history] == [
        (pytest.approx(2 / 3, abs=1e-3), GRADER, "apple anchor")
    ]


def test_regrading_all_reports_which_scores_changed_and_passes_over_the_rest(store):
    changed = spoken(store, "apple")
    same = typed(store, "apple anchor arrow")
    skipped = engine_for(store)
    skipped.start_answer()
    skipped.skip()
    assert skipped.attempt is not None
    ids = [changed.id, same.id, skipped.attempt.id]
    done = list(answers.regrade_attempts(store, sample_bank(), fixed_grader(1.0), ids))
    assert done == [True, False, False]
    assert store.get_attempt(skipped.attempt.id).state == "skipped"
    assert [len(store.grade_history(i)) for i in ids] == [1, 1, 0]


def test_a_hand_correction_of_a_spoken_answer_is_an_edited_transcript(store):
    row = spoken(store, "apple")
    graded, _ = answers.regrade_attempt(store, sample_bank(), FakeGrader(), row.id,
                                        text="apple anchor arrow")
    assert graded.transcript == "apple anchor arrow" and graded.transcript_edited
    assert graded.score == 1.0 and graded.extra["grader"] == GRADER
    assert [h["transcript"] for h in store.grade_history(row.id)] == ["apple"]
    # the same text again is still the corrected transcript, not a new edit
    again, _ = answers.regrade_attempt(store, sample_bank(), FakeGrader(), row.id,
                                       text="apple anchor arrow")
    assert again.transcript_edited


def test_correcting_a_typed_answer_is_not_an_edited_transcript(store):
    row = typed(store, "apple")
    graded, _ = answers.regrade_attempt(store, sample_bank(), FakeGrader(), row.id,
                                        text="apple anchor arrow")
    assert graded.transcript == "apple anchor arrow" and graded.typed
    assert not graded.transcript_edited and graded.extra["grader"] == GRADER


def test_the_engine_and_the_pipeline_agree_on_a_hand_correction(store):
    engine = engine_for(store, texts="apple")
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    engine.grade("apple anchor arrow")
    row = store.get_attempt(attempt.id)
    assert row.transcript_edited and row.extra["grader"] == GRADER
    # unchanged text is no edit
    engine = engine_for(store, texts="apple")
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade("apple")
    assert not store.get_attempt(attempt.id).transcript_edited


def test_a_plain_regrade_needs_a_transcript_and_a_question_of_the_bank(store):
    engine = engine_for(store)
    attempt = engine.start_answer()
    engine.skip()
    with pytest.raises(StoreError, match="skipped"):
        answers.regrade_attempt(store, sample_bank(), None, attempt.id)
    row = typed(store)
    other = Bank(name="other", title="Other", questions=sample_bank().questions[1:])
    with pytest.raises(StoreError, match="not in bank"):
        answers.regrade_attempt(store, other, None, row.id)


def test_the_default_grader_is_the_matcher_and_is_named_after_it():
    from questions import grade_question

    assert answers.grader_or_default(None) is grade_question
    assert answers.grader_name(grade_question) == f"{grade_question.__module__}.grade_question"
    assert answers.grader_name(FakeGrader()) == GRADER


def test_a_spoken_answer_without_a_recogniser_says_how_to_go_on(store, tmp_path):
    q = sample_bank().get("q1")
    wav = Path(tmp_path / "a.wav")
    FakeRecorder().start(wav)
    with pytest.raises(NoRecogniser, match="type the answer"):
        answers.transcribe_recording(None, q, wav, None)


def test_delivery_is_timed_by_the_recorders_voice_activity_not_the_recogniser(tmp_path):
    """Whisper's first segment starts at 0 s after a silence; the detector
    heard the first word at 10 s: pace and time to first word follow it."""
    from audio.results import Recording, Segment, Transcript
    from interviewer.session.answers import delivery_and_asr_notes, speech_of

    words = " ".join(["word"] * 60)
    transcript = Transcript(words, (Segment(0.0, 34.0, words),), duration_s=34.0)
    recording = Recording(tmp_path / "a.wav", 34.0, True, speech_start_s=10.0,
                          speech_end_s=34.0, pauses=((20.0, 24.0),))
    assert speech_of(recording) == [(10.0, 20.0), (24.0, 34.0)]
    delivery = delivery_and_asr_notes(transcript, 34.0, recording).delivery
    assert delivery is not None
    assert delivery["first_word_s"] == 10.0 and delivery["timing"] == "voice activity"
    assert delivery["speaking_time_s"] == 21.0  # 24 s, less 3 s of the 4 s pause
    assert delivery["wpm"] == round(60 * 60 / 21.0, 1)
    assert any("before your first word" in n for n in delivery["notes"])
