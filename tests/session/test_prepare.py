"""Speech rendered ahead: the engine asks the speaker to prepare the next
question while this one is asked and answered, and a follow-up's probe as
soon as the answer's grade makes it due, so either starts at once."""

from __future__ import annotations

import dataclasses
import random

import pytest

from interviewer.config import Settings
from interviewer.session.engine import Ports, SessionEngine
from interviewer.session.model import SessionConfig
from interviewer.session.store import Store
from questions.model import Bank
from tests.session.fakes import (
    PROBED,
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
)

SECOND = dataclasses.replace(PROBED, id="tools-again", prompt="Name the tools once more.")
BANK = Bank(name="tools", title="Tools", questions=(PROBED, SECOND))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "attempts.sqlite3")
    yield s
    s.close()


def engine_for(store, speaker, **settings):
    ports = Ports(speaker, FakeRecorder(), FakeTranscriber(["apple"]), FakeGrader())
    cfg = SessionConfig(mode="practice", bank="tools", count=2,
                        question_ids=("tools", "tools-again"))
    engine = SessionEngine(BANK, store, ports, Settings(**settings), cfg, clock=FakeClock(),
                           rng=random.Random(1))
    engine.start()
    return engine


def test_the_next_question_is_prepared_while_this_one_is_answered(store):
    speaker = FakeSpeaker()
    engine = engine_for(store, speaker, followups=0)
    first = engine.next_question()
    assert speaker.prepared == [first.spoken_text, SECOND.spoken_text]
    engine.ask()
    assert speaker.spoken == [first.spoken_text]
    engine.submit_typed("apple anchor anvil arrow")
    engine.next_question()
    assert speaker.prepared[-1] == SECOND.spoken_text  # the last one: nothing after it


def test_a_due_probe_is_prepared_when_the_answer_is_graded(store):
    speaker = FakeSpeaker()
    engine = engine_for(store, speaker, followups=1)
    engine.next_question()
    engine.ask()
    engine.submit_typed("apple")  # anchor, the heaviest point, is missed
    probe = engine.followup_offer()
    assert probe is not None and speaker.prepared[-1] == probe.prompt
    engine.begin_followup()
    engine.ask()
    assert speaker.spoken[-1] == probe.prompt


def test_nothing_is_prepared_when_questions_are_not_spoken(store):
    speaker = FakeSpeaker()
    engine = engine_for(store, speaker, speak_questions=False)
    engine.next_question()
    engine.submit_typed("apple")
    assert speaker.prepared == []
