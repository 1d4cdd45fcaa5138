"""The follow-up turn: which key point is probed, the spoken and typed
reply, skipping at no cost, the combined score, misconceptions in a reply,
storage, re-grading and crash recovery. Driven with fakes and a real SQLite
store; the scores come from ``FakeGrader`` (weighted fraction of key points
named, less misconception penalties) so every figure can be worked out by hand."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from interviewer.config import Settings
from interviewer.session.answers import regrade_attempt, regrade_attempts
from interviewer.session.engine import IllegalTransition, Ports, SessionEngine
from interviewer.session.followup import attempt_grade, next_probe
from interviewer.session.model import Phase, SessionConfig
from interviewer.session.store import MIGRATIONS, Store
from questions.assessment import Assessment, KeyPointResult
from questions.followup import combine, probe_order
from questions.model import KeyPoint, Question
from tests.session.fakes import (
    PROBED,
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    probe_bank,
)

TOTAL = 1.0 + 2.0 + 0.5 + 2.0
"""The key-point weights of ``QUESTION``."""

QUESTION = PROBED
BANK = probe_bank()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data" / "attempts.sqlite3")
    yield s
    s.close()


def make(store, texts=("apple",), *, followups=1, share=0.5, mode="practice", recorder=None,
         speaker=None):
    ports = Ports(speaker or FakeSpeaker(), recorder or FakeRecorder(), FakeTranscriber(list(texts)),
                  FakeGrader())
    settings = Settings(followups=followups, followup_share=share)
    cfg = SessionConfig(mode=mode, bank="tools", count=1, question_ids=("tools",))
    engine = SessionEngine(BANK, store, ports, settings, cfg, clock=FakeClock(), rng=random.Random(1))
    engine.start()
    engine.next_question()
    return engine


def answered(store, text="apple", **kw):
    """An engine whose typed answer ``text`` is graded (phase FEEDBACK)."""
    engine = make(store, **kw)
    engine.submit_typed(text)
    return engine


# -- which point ---------------------------------------------------------------------


def test_the_heaviest_missed_point_is_probed_ties_in_bank_order(store):
    engine = answered(store, "apple")  # anchor (2), arrow (0.5), anvil (2) missed
    probe = engine.followup_offer()
    assert probe is not None
    assert (probe.key_point, probe.prompt, probe.position) == (
        "anchor", "What holds the ship in place?", 1,
    )


def test_points_lighter_than_one_are_never_probed(store):
    engine = answered(store, "apple anchor anvil")  # only arrow (0.5) is missed
    assert engine.followup_offer() is None
    with pytest.raises(IllegalTransition, match="no follow-up"):
        engine.begin_followup()


def test_a_partial_point_is_probed_and_a_point_without_a_probe_is_not():
    q = Question(
        id="p", prompt="?", reference="",
        key_points=(KeyPoint("one", 1.0, probe="First?"), KeyPoint("two", 3.0),
                    KeyPoint("three", 1.0, probe="Third?")),
    )
    graded = Assessment(score=0.3, key_points=(
        KeyPointResult("one", 1.0, "covered", 1.0), KeyPointResult("two", 3.0, "missed", 0.0),
        KeyPointResult("three", 1.0, "partial", 0.3),
    ))
    assert probe_order(q, graded) == [2]
    assert probe_order(Question("n", "?", "", q.key_points), Assessment(score=None)) == []


@pytest.mark.parametrize("count", [0, 1, 2])
def test_follow_ups_per_question_follow_the_setting(store, count):
    engine = answered(store, "apple", followups=count)
    asked = []
    while (probe := engine.followup_offer()) is not None:
        engine.begin_followup()
        engine.ask()
        engine.submit_typed("no idea")
        asked.append(probe.key_point)
    assert asked == ["anchor", "anvil"][:count]
    assert [f.key_point_text for f in store.followups(engine.attempt.id)] == asked


def test_rapid_rounds_never_follow_up(store):
    engine = make(store, mode="rapid", followups=2)
    engine.submit_typed("apple")
    assert engine.phase is Phase.FEEDBACK and engine.followup_offer() is None
    assert next_probe(QUESTION, engine.assessment, Settings(followups=2), "rapid") is None
    assert next_probe(QUESTION, engine.assessment, Settings(followups=2), "review") is not None


def test_no_speech_gets_no_follow_up(store):
    engine = make(store, texts=("",), recorder=FakeRecorder(speech=False))
    engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    assert engine.assessment.no_speech and engine.followup_offer() is None


# -- the reply ---------------------------------------------------------------------------


def test_a_spoken_follow_up_is_asked_recorded_transcribed_and_recovers_the_point(store):
    speaker = FakeSpeaker()
    states_at_start = []
    recorder = FakeRecorder(on_start=lambda path: states_at_start.append(
        [(f.state, f.audio_path) for f in store.followups(engine.attempt.id)]))
    engine = make(store, texts=("apple", "the anchor holds it"), recorder=recorder,
                  speaker=speaker)
    engine.ask()
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    first = engine.grade()
    assert first.score == pytest.approx(round(1 / TOTAL, 4))

    probe = engine.begin_followup()
    assert engine.phase is Phase.ASKING and engine.followup is not None
    assert engine.ask() is None
    assert speaker.spoken == [QUESTION.prompt, probe.prompt]  # the probe is spoken like a question
    assert engine.start_answer().id == attempt.id  # the reply belongs to the attempt
    wav = store.followup_audio_path(attempt.id, 1)
    assert states_at_start[-1] == [("recording", str(wav))]  # the row exists before audio starts
    engine.stop_answer()
    assert engine.transcribe().text == "the anchor holds it"
    reply = engine.grade()
    assert engine.phase is Phase.FEEDBACK and engine.followup is None
    assert reply.key_points[1].status == "covered"

    recovered = round(0.5 * 2.0 / TOTAL, 4)
    stored = store.get_attempt(attempt.id)
    assert stored.unprompted_score == pytest.approx(first.score)
    assert stored.score == pytest.approx(first.score + recovered)
    assert engine.attempt.score == stored.score  # the engine shows the combined score
    (f,) = store.followups(attempt.id)
    assert (f.state, f.prompt, f.key_point, f.typed, f.transcript) == (
        "graded", probe.prompt, 1, False, "the anchor holds it",
    )
    assert Path(f.audio_path) == wav and wav.exists()
    assert f.grade["before"] == "missed" and f.grade["after"] == "covered"
    assert f.grade["recovered"] == pytest.approx(recovered) and f.grade["share"] == 0.5
    assert f.extra["share"] == 0.5 and f.extra["stopped_by"] == "user"

    grade = attempt_grade(store, QUESTION, stored)
    given = {p.text: p.given for p in grade.points}
    assert given == {"apple": "unprompted", "anchor": "prompted", "arrow": "missed",
                     "anvil": "missed"}
    anchor = grade.points[1]
    assert (anchor.probe, anchor.reply, anchor.evidence) == (probe.prompt, "the anchor holds it",
                                                              "anchor")
    assert grade.percent == round(stored.score * 100)


def test_the_recovered_share_is_the_setting(store):
    engine = answered(store, "apple", share=0.25)
    engine.begin_followup()
    engine.submit_typed("anchor")
    assert engine.attempt.score == pytest.approx(round(1 / TOTAL, 4) + round(0.25 * 2 / TOTAL, 4))


def test_skipping_a_follow_up_costs_nothing_and_is_stored(store):
    engine = answered(store, "apple")
    before = engine.attempt.score
    engine.begin_followup()
    engine.ask()
    engine.skip()
    assert engine.phase is Phase.FEEDBACK and engine.followup is None
    stored = store.get_attempt(engine.attempt.id)
    assert stored.score == before and stored.unprompted_score == before
    (f,) = store.followups(stored.id)
    assert (f.state, f.audio_path, f.transcript, f.grade) == ("skipped", None, None, None)
    assert engine.followup_offer() is None  # one follow-up per question by default
    assert engine.next_question() is None


def test_skipping_while_recording_a_reply_keeps_its_audio(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.start_answer()
    engine.skip()
    (f,) = store.followups(engine.attempt.id)
    assert f.state == "skipped" and Path(f.audio_path).exists()
    assert store.get_attempt(engine.attempt.id).score == pytest.approx(round(1 / TOTAL, 4))


def test_typing_while_recording_a_reply_keeps_the_audio_with_the_text(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.start_answer()
    engine.submit_typed("an anchor")
    (f,) = store.followups(engine.attempt.id)
    assert (f.state, f.typed, f.transcript) == ("graded", True, "an anchor")
    assert Path(f.audio_path).exists()
    assert f.grade["after"] == "covered"


def test_a_reply_that_misses_again_adds_nothing(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.submit_typed("a rope, maybe")
    stored = store.get_attempt(engine.attempt.id)
    assert stored.score == stored.unprompted_score
    assert store.followups(stored.id)[0].grade["recovered"] == 0


def test_a_misconception_in_a_reply_is_charged_like_in_the_answer(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.submit_typed("an anchor, and the moon is made of cheese")
    stored = store.get_attempt(engine.attempt.id)
    expected = round(1 / TOTAL, 4) + round(0.5 * 2 / TOTAL, 4) - 0.1
    assert stored.score == pytest.approx(expected)
    f = store.followups(stored.id)[0]
    assert f.grade["charged"] == [["the moon is cheese", 0.1]]
    grade = attempt_grade(store, QUESTION, stored)
    assert [m.text for m in grade.charged] == ["the moon is cheese"]


def test_a_misconception_already_charged_in_the_answer_is_not_charged_twice(store):
    engine = answered(store, "apple; the moon is made of cheese")
    own = engine.attempt.score
    engine.begin_followup()
    engine.submit_typed("anchor, the moon is made of cheese")
    assert store.followups(engine.attempt.id)[0].grade["charged"] == []
    assert engine.attempt.score == pytest.approx(own + round(0.5 * 2 / TOTAL, 4))


def test_a_hand_correction_of_the_answer_recombines_its_follow_ups(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.submit_typed("anchor")
    engine.grade("apple and anchor")  # the anchor was said after all
    stored = store.get_attempt(engine.attempt.id)
    assert stored.unprompted_score == pytest.approx(round(3 / TOTAL, 4))
    assert stored.score == stored.unprompted_score  # nothing left to recover
    assert store.followups(stored.id)[0].grade["recovered"] == 0


def test_a_follow_up_is_never_deferred(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.start_answer()
    with pytest.raises(IllegalTransition, match="follow-up"):
        engine.defer_answer()


def test_ending_the_session_mid_reply_grades_what_was_said(store):
    engine = make(store, texts=("anchor",))
    engine.submit_typed("apple")
    engine.begin_followup()
    engine.start_answer()
    summary = engine.finish()
    (f,) = store.followups(engine.attempt.id)
    assert f.state == "graded" and f.transcript == "anchor"
    (result,) = summary.results
    assert result.score == pytest.approx(round(1 / TOTAL, 4) + round(1 / TOTAL, 4))


def test_ending_the_session_while_the_probe_is_read_stores_no_reply(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    summary = engine.finish()
    assert store.followups(engine.attempt.id) == []
    assert summary.results[0].score == pytest.approx(round(1 / TOTAL, 4))


# -- stored: recovery, re-grading, migration ------------------------------------------------


def test_a_reply_cut_off_mid_answer_is_recovered_on_the_next_start(store):
    engine = make(store, texts=("apple",))
    engine.submit_typed("apple")
    engine.begin_followup()
    engine.start_answer()  # ... and the process dies while the person speaks
    attempt_id = engine.attempt.id
    assert store.followups(attempt_id)[0].state == "recording"

    later = make(store, texts=("the anchor",))
    (offered,) = later.recover_interrupted()
    assert offered.id == attempt_id
    recovered = later.recover(attempt_id)
    (f,) = store.followups(attempt_id)
    assert f.state == "graded" and f.transcript == "the anchor" and f.extra["recovered"] is True
    assert recovered.score == pytest.approx(round(1 / TOTAL, 4) + round(1 / TOTAL, 4))
    assert later.recover_interrupted() == []


def test_regrading_regrades_the_follow_ups_and_keeps_the_earlier_grades(store):
    engine = answered(store, "apple")
    engine.begin_followup()
    engine.submit_typed("anchor")
    attempt_id = engine.attempt.id

    def generous(question: Question, text: str) -> Assessment:
        return Assessment(score=0.5, key_points=tuple(
            KeyPointResult(k.text, k.weight, "partial", 0.3) for k in question.key_points))

    graded, _ = regrade_attempt(store, BANK, generous, attempt_id)
    f = store.followups(attempt_id)[0]
    assert f.grade["grader"].endswith("generous")
    assert (f.grade["before"], f.grade["after"], f.grade["recovered"]) == ("partial", "partial", 0)
    assert graded.score == graded.unprompted_score == 0.5
    (earlier,) = store.grade_history(attempt_id)
    assert earlier["followups"][0]["grade"]["after"] == "covered"
    assert list(regrade_attempts(store, BANK, FakeGrader(), [attempt_id])) == [True]
    assert store.get_attempt(attempt_id).score == pytest.approx(round(2 / TOTAL, 4))


def test_combine_is_the_documented_rule():
    own = FakeGrader()(QUESTION, "apple")
    reply = FakeGrader()(QUESTION, "anchor")
    combined = combine(QUESTION, own, [(1, reply, 0.5), (3, None, 0.5)])
    (first, second) = combined.recoveries
    assert first.recovered == pytest.approx(0.5 * 2 / TOTAL, abs=1e-4) and first.gained
    assert second.recovered == 0 and second.after == "missed"
    assert combined.score == pytest.approx(own.score + first.recovered)
    assert combine(QUESTION, Assessment(score=None), [(1, reply, 0.5)]).score is None


def test_a_database_of_the_previous_schema_is_upgraded_and_keeps_its_attempts(tmp_path):
    path = tmp_path / "data" / "attempts.sqlite3"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute(
            "INSERT INTO attempts (question_id, state, started_at, updated_at, score, transcript)"
            " VALUES ('tools', 'graded', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00',"
            " 0.7, 'apple')"
        )
        db.execute("PRAGMA user_version = 1")
    with Store(path) as upgraded:
        assert upgraded.schema_version == len(MIGRATIONS) >= 2
        (old,) = upgraded.attempts()
        assert (old.score, old.unprompted_score, old.transcript) == (0.7, 0.7, "apple")
        assert upgraded.followups(old.id) == []
        f = upgraded.begin_followup(old.id, position=1, key_point=1, key_point_text="anchor",
                                    prompt="What holds the ship in place?")
        assert upgraded.row(old.id)["followups"][0]["id"] == f.id


# -- exported --------------------------------------------------------------------------------


def test_exports_include_the_follow_up_exchange(store, tmp_path):
    import csv
    import io
    import json

    from interviewer.session.export import export

    engine = answered(store, "apple", followups=2)
    engine.begin_followup()
    engine.submit_typed("the anchor")
    engine.begin_followup()
    engine.skip()
    session_id = engine.finish().session_id
    attempt = store.get_attempt(engine.attempt.id)

    md = export(store, BANK, "md", session_id=session_id, output=tmp_path / "s.md").read_text()
    assert f"score {round(attempt.score * 100)}% ({round(1 / TOTAL * 100)}% unprompted)" in md
    assert "**Follow-up 1** (on: anchor): What holds the ship in place?" in md
    assert "> the anchor" in md and "given after the prompt (covered): +18 points" in md
    assert "**Follow-up 2** (on: anvil): What does the smith strike on?" in md
    assert "- skipped" in md
    assert "- anchor (given after a follow-up)" in md  # missed in the answer, recovered
    assert "- anvil\n" in md  # skipped: still simply missed

    data = json.loads(export(store, BANK, "json", session_id=session_id,
                             output=tmp_path / "s.json").read_text())
    (row,) = data["attempts"]
    assert row["unprompted_score"] == pytest.approx(round(1 / TOTAL, 4))
    assert [(f["position"], f["state"], f["transcript"]) for f in row["followups"]] == [
        (1, "graded", "the anchor"), (2, "skipped", None),
    ]
    assert row["followups"][0]["grade"]["assessment"]["key_points"][1]["status"] == "covered"

    text = export(store, BANK, "csv", session_id=session_id, output=tmp_path / "s.csv").read_text()
    (line,) = csv.DictReader(io.StringIO(text))
    assert line["followups"] == "2" and line["prompted"] == "anchor"
    assert line["followup_exchange"] == (
        "What holds the ship in place? [graded] the anchor | What does the smith strike on? [skipped]"
    )
    assert float(line["score"]) > float(line["unprompted_score"])
