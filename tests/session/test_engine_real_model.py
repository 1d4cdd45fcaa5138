"""The engine with the real bundled speech recogniser on real speech: the
recorder is replaced by one that "records" the JFK clip into the attempt's
WAV file; everything after that (reading the file, whisper, delivery metrics,
SQLite, FSRS, export) is the real thing. Also crash recovery on real audio."""

from __future__ import annotations

import random

import pytest

from audio.clip import read_audio
from interviewer.config import Settings
from interviewer.session.engine import Ports, SessionEngine
from interviewer.session.export import export
from interviewer.session.model import SessionConfig
from interviewer.session.store import Store
from questions.model import Bank, KeyPoint, Question
from tests.conftest import TEST_DATA
from tests.session.fakes import FakeClock, FakeGrader, FakeRecorder, FakeSpeaker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SPEECH = Question(
    id="civic-duty",
    prompt="What did the speech ask of citizens?",
    reference="To ask what they can do for their country rather than what it can do for them.",
    key_points=(
        KeyPoint("ask what you can do for your country", phrasings=("do for your country",)),
        KeyPoint("fellow Americans"),
        KeyPoint("pay any price"),
    ),
    topics=("speeches",),
    terms=("fellow Americans",),
)
BANK = Bank(name="speeches", title="Speeches", questions=(SPEECH,))


def test_spoken_answer_end_to_end_with_whisper(transcriber, tmp_path):
    clip = read_audio(TEST_DATA / "jfk.flac")
    store = Store()
    ports = Ports(FakeSpeaker(), FakeRecorder(clip=clip), transcriber, FakeGrader())
    engine = SessionEngine(
        BANK, store, ports, Settings(), SessionConfig(bank="speeches", count=1),
        clock=FakeClock(), rng=random.Random(0),
    )
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    engine.stop_answer()
    transcript = engine.transcribe()
    text = transcript.text.lower()
    assert "fellow americans" in text and "your country" in text
    assessment = engine.grade()
    assert assessment.score == pytest.approx(2 / 3, abs=1e-3)  # not "pay any price"
    row = store.get_attempt(attempt.id)
    assert row.state == "graded" and row.delivery and row.delivery.get("words", 0) >= 15
    assert row.extra["asr"]["engine"]
    summary = engine.finish()
    assert summary.answered == 1
    md = export(store, BANK, "md", session_id=summary.session_id).read_text()
    assert "fellow Americans" in md or "fellow americans" in md.lower()
    store.close()


def test_crash_recovery_on_real_audio(transcriber):
    clip = read_audio(TEST_DATA / "jfk.flac")
    store = Store()
    ports = Ports(FakeSpeaker(), FakeRecorder(clip=clip), transcriber, FakeGrader())
    engine = SessionEngine(BANK, store, ports, Settings(), SessionConfig(bank="speeches", count=1), clock=FakeClock())
    engine.start()
    engine.next_question()
    crashed = engine.start_answer()  # the process "dies" while recording
    store.close()

    store = Store()
    later = SessionEngine(BANK, store, ports, Settings(), SessionConfig(bank="speeches", count=1), clock=FakeClock())
    assert [a.id for a in later.recover_interrupted()] == [crashed.id]
    done = later.recover(crashed.id)
    assert done.state == "graded" and "country" in (done.transcript or "").lower()
    assert done.score and done.score > 0.5
    store.close()
