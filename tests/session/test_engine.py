"""The session engine's state machine, driven directly with fakes, a fake
clock and a real SQLite store in a temporary folder."""

from __future__ import annotations

import random
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from audio.errors import NoMicrophone
from interviewer.config import Settings
from interviewer.session.engine import (
    IllegalTransition,
    NothingDue,
    Ports,
    SessionEngine,
    SessionError,
)
from interviewer.session.model import Phase, SessionConfig
from interviewer.session.store import Store
from tests.session.fakes import (
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    fixed_grader,
    sample_bank,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class WallClock:
    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data" / "attempts.sqlite3")
    yield s
    s.close()


def make(store, *, ports=None, config=None, clock=None, wall=None, settings=None):
    bank = sample_bank()
    clock = clock or FakeClock()
    wall = wall or WallClock()
    store.now = wall
    ports = ports or Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber("apple anchor arrow"), FakeGrader())
    cfg = config or SessionConfig(bank="sample", order="sequential", count=3)
    return SessionEngine(bank, store, ports, settings or Settings(), cfg, clock=clock, rng=random.Random(7), now=wall)


def test_practice_full_cycle_moves_through_every_phase_and_stores_the_attempt(store):
    clock = FakeClock()
    speaker = FakeSpeaker()
    transcriber = FakeTranscriber("An apple and an anchor.")
    seen_phases = []
    states_at_start = []

    def on_start(path: Path) -> None:
        # the attempt row must already exist, in state "recording", before audio starts
        attempt_id = int(path.stem)
        states_at_start.append(store.get_attempt(attempt_id).state)

    recorder = FakeRecorder(on_start=on_start)
    grader = FakeGrader()
    engine = make(store, ports=Ports(speaker, recorder, transcriber, grader), clock=clock)
    info = engine.start()
    assert info.mode == "practice" and engine.phase is Phase.IDLE
    assert [q.id for q in engine.questions] == ["q1", "q2", "q3"]

    q = engine.next_question()
    seen_phases.append(engine.phase)
    assert q is not None and q.id == "q1" and engine.current == q and engine.index == 0
    assert engine.ask() is None
    assert speaker.spoken == [q.spoken_text]
    attempt = engine.start_answer()
    seen_phases.append(engine.phase)
    assert states_at_start == ["recording"]
    assert attempt.state == "recording" and attempt.session_id == info.id
    clock.advance(12.5)
    rec = engine.stop_answer()
    seen_phases.append(engine.phase)
    assert store.get_attempt(attempt.id).state == "recorded"
    assert Path(rec.path).exists()
    assert stat.S_IMODE(Path(rec.path).stat().st_mode) == 0o600
    t = engine.transcribe()
    seen_phases.append(engine.phase)
    assert t.text == "An apple and an anchor."
    assert transcriber.hints == [q.recogniser_hint()]
    row = store.get_attempt(attempt.id)
    assert row.state == "transcribed" and row.transcript == t.text
    assert row.delivery is not None
    a = engine.grade()
    seen_phases.append(engine.phase)
    assert a.score == pytest.approx(2 / 3, abs=1e-3)
    row = store.get_attempt(attempt.id)
    assert row.state == "graded" and row.score == a.score and row.answer_time_s == pytest.approx(12.5)
    assert row.assessment["key_points"][0]["status"] == "covered"
    assert seen_phases == [Phase.ASKING, Phase.LISTENING, Phase.TRANSCRIBING, Phase.GRADING, Phase.FEEDBACK]

    for _ in range(2):
        engine.next_question()
        engine.skip()
    assert engine.next_question() is None
    assert engine.phase is Phase.DONE and engine.current is None
    summary = engine.finish()
    assert [r.state for r in summary.results] == ["graded", "unanswered", "unanswered"]
    assert summary.total == pytest.approx(a.score) and summary.answered == 1
    assert store.get_session(info.id).ended_at is not None


@pytest.mark.parametrize(
    "call",
    ["start_answer", "stop_answer", "transcribe", "grade", "skip", "ask"],
)
def test_steps_before_a_question_are_illegal(store, call):
    engine = make(store)
    engine.start()
    with pytest.raises(IllegalTransition, match="idle"):
        getattr(engine, call)()


def test_illegal_transitions_name_the_phase(store):
    engine = make(store)
    with pytest.raises(IllegalTransition):
        engine.next_question()  # before start
    engine.start()
    engine.next_question()
    with pytest.raises(IllegalTransition, match="asking"):
        engine.stop_answer()
    with pytest.raises(IllegalTransition, match="asking"):
        engine.next_question()  # must answer or skip first
    engine.start_answer()
    with pytest.raises(IllegalTransition, match="listening"):
        engine.grade()
    with pytest.raises(IllegalTransition, match="listening"):
        engine.start_answer()
    engine.stop_answer()
    with pytest.raises(IllegalTransition, match="transcribing"):
        engine.grade()
    engine.transcribe()
    with pytest.raises(IllegalTransition, match="grading"):
        engine.transcribe()
    engine.grade()
    with pytest.raises(IllegalTransition, match="feedback"):
        engine.skip()
    with pytest.raises(IllegalTransition):
        engine.start()  # already started


def test_hand_corrected_transcript_regrades_and_keeps_history(store):
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber("an apple"), FakeGrader()))
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    first = engine.grade()
    second = engine.grade("an apple, an anchor and an arrow")
    assert first.score == pytest.approx(1 / 3, abs=1e-3) and second.score == 1.0
    row = store.get_attempt(attempt.id)
    assert row.score == 1.0 and row.transcript_edited and row.transcript.endswith("arrow")
    history = store.grade_history(attempt.id)
    assert [h["score"] for h in history] == [first.score]
    assert history[0]["transcript"] == "an apple"
    # one review in the schedule, not two
    assert len(store.reviews("sample", "q1")) == 1


def test_no_speech_is_never_graded(store):
    grader = FakeGrader()
    transcriber = FakeTranscriber("should not be used")
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(speech=False), transcriber, grader))
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    engine.stop_answer()
    t = engine.transcribe()
    assert t.text == "" and transcriber.clips == []
    a = engine.grade()
    assert a.no_speech and a.score is None and grader.calls == []
    row = store.get_attempt(attempt.id)
    assert row.state == "graded" and row.score is None and row.assessment["no_speech"] is True
    assert store.cards("sample") == []  # not a review


def test_empty_transcript_counts_as_no_speech(store):
    grader = FakeGrader()
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber("   "), grader))
    engine.start()
    engine.next_question()
    engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    assert engine.grade().no_speech and grader.calls == []


def test_typed_answer_and_missing_microphone(store):
    clock = FakeClock()
    engine = make(
        store,
        ports=Ports(FakeSpeaker(), FakeRecorder(no_microphone=True), None, FakeGrader()),
        clock=clock,
    )
    engine.start()
    engine.next_question()
    with pytest.raises(NoMicrophone):
        engine.start_answer()
    assert engine.phase is Phase.ASKING
    clock.advance(30)
    a = engine.submit_typed("apples and arrows")
    assert a.score == pytest.approx(2 / 3, abs=1e-3) and engine.phase is Phase.FEEDBACK
    typed = [x for x in store.attempts() if x.typed]
    assert len(typed) == 1 and typed[0].state == "graded" and typed[0].audio_path is None
    assert typed[0].answer_time_s == pytest.approx(30)
    failed = store.attempts(states=("failed",))
    assert len(failed) == 1 and "no input device" in failed[0].error


def test_no_recorder_port_raises_no_microphone(store):
    engine = make(store, ports=Ports(FakeSpeaker(), None, None, FakeGrader()))
    engine.start()
    engine.next_question()
    with pytest.raises(NoMicrophone):
        engine.start_answer()
    assert store.attempts() == []


def test_speech_unavailable_gives_a_notice_not_an_error(store):
    engine = make(store, ports=Ports(FakeSpeaker(available=False), FakeRecorder(), FakeTranscriber("x"), FakeGrader()))
    engine.start()
    engine.next_question()
    notice = engine.ask()
    assert notice and "question" in notice
    assert engine.phase is Phase.ASKING


def test_skip_while_listening_keeps_audio(store):
    recorder = FakeRecorder()
    engine = make(store, ports=Ports(FakeSpeaker(), recorder, FakeTranscriber("x"), FakeGrader()))
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    engine.skip()
    assert engine.phase is Phase.FEEDBACK and recorder.stopped == 1
    row = store.get_attempt(attempt.id)
    assert row.state == "skipped" and Path(row.audio_path).exists()
    assert engine.next_question().id == "q2"


def test_rapid_round_time_limit_and_personal_best(store):
    clock = FakeClock()
    cfg = SessionConfig(mode="rapid", bank="sample", count=2, order="sequential", time_limit_s=20)

    def round_(texts, durations):
        ports = Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber(texts), FakeGrader())
        engine = make(store, ports=ports, config=cfg, clock=clock)
        engine.start()
        for d in durations:
            engine.next_question()
            engine.ask()
            engine.start_answer()
            assert engine.remaining_s() == pytest.approx(20)
            clock.advance(d)
            if d >= 20:
                assert engine.remaining_s() == 0
                assert engine.answer_ended(0.1)
            else:
                assert engine.remaining_s() == pytest.approx(20 - d)
                assert not engine.answer_ended(0.1)
            engine.stop_answer()
            assert engine.remaining_s() is None
            engine.transcribe()
            engine.grade()
        engine.next_question()
        return engine.finish()

    first = round_(["apple", "banana"], [5, 25])
    assert first.previous_best is None and first.new_best
    assert first.results[1].timed_out and first.results[1].answer_time_s == pytest.approx(20)
    assert first.results[0].answer_time_s == pytest.approx(5)
    assert first.total == pytest.approx(2 / 3, abs=1e-3)
    worse = round_(["nothing", "apple"], [3, 3])
    assert worse.previous_best == pytest.approx(first.total) and not worse.new_best
    better = round_(["apple anchor arrow", "banana bridge bottle"], [3, 3])
    assert better.previous_best == pytest.approx(first.total) and better.new_best
    assert better.total == 2.0 and better.mean == 1.0
    # a different configuration has its own best
    other = SessionConfig(mode="rapid", bank="sample", count=1, order="sequential", time_limit_s=20)
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber("apple"), FakeGrader()), config=other, clock=clock)
    engine.start()
    engine.next_question()
    engine.submit_typed("apple")
    assert engine.finish().previous_best is None


def test_rapid_uses_settings_limit_and_practice_has_none(store):
    rapid = make(store, config=SessionConfig(mode="rapid", bank="sample"), settings=Settings(rapid_answer_s=9))
    rapid.start()
    rapid.next_question()
    assert rapid.remaining_s() == pytest.approx(9)
    practice = make(store)
    practice.start()
    practice.next_question()
    assert practice.remaining_s() is None


def test_finish_mid_answer_keeps_audio_and_is_idempotent(store):
    engine = make(store)
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    s1 = engine.finish()
    assert engine.phase is Phase.DONE
    assert store.get_attempt(attempt.id).state == "skipped"
    assert engine.finish() is s1
    with pytest.raises(IllegalTransition):
        engine.next_question()


def test_crash_recovery_transcribes_and_grades_later(store):
    # session 1 "crashes" after recording: nothing calls stop/transcribe
    engine = make(store)
    engine.start()
    engine.next_question()
    crashed = engine.start_answer()
    assert Path(crashed.audio_path).exists()
    # session 2 starts with a fresh engine on the same database
    store2 = Store(store.path)
    try:
        grader = FakeGrader()
        later = make(store2, ports=Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber("apple and anchor"), grader))
        pending = later.recover_interrupted()
        assert [a.id for a in pending] == [crashed.id]
        done = later.recover(crashed.id)
        assert done.state == "graded" and done.score == pytest.approx(2 / 3, abs=1e-3)
        assert done.transcript == "apple and anchor" and done.extra["recovered"]
        assert later.recover_interrupted() == []
        assert store2.get_card("sample", "q1") is not None
    finally:
        store2.close()


def test_regrade_old_attempt_with_another_grader_keeps_previous_score(store):
    engine = make(store)
    engine.start()
    engine.next_question()
    a = engine.submit_typed("apple anchor arrow")
    assert a.score == 1.0
    attempt_id = engine.attempt.id
    other = make(store, ports=Ports(None, None, None, fixed_grader(0.25)))
    updated = other.regrade(attempt_id)
    assert updated.score == 0.25
    assert updated.extra["grader"].endswith("fixed_grader.<locals>.grade")
    history = store.grade_history(attempt_id)
    assert [h["score"] for h in history] == [1.0]
    assert "FakeGrader" in history[0]["grader"]


def test_review_mode_asks_only_due_questions(store):
    wall = WallClock()
    engine = make(store, wall=wall, config=SessionConfig(bank="sample", order="sequential", count=6))
    engine.start()
    for text in ["nothing", "banana bridge bottle", "nothing"]:
        engine.next_question()
        engine.submit_typed(text)
    engine.finish()
    review = SessionConfig(mode="review", bank="sample", count=10)
    with pytest.raises(NothingDue, match="no question"):
        make(store, wall=wall, config=review).start()
    wall.t = T0 + timedelta(minutes=15)  # failed cards (Again) are due again within minutes
    engine = make(store, wall=wall, config=review)
    engine.start()
    assert sorted(q.id for q in engine.questions) == ["q1", "q3"]


def test_unknown_topic_is_a_clear_session_error(store):
    engine = make(store, config=SessionConfig(bank="sample", topics=("nope",)))
    with pytest.raises(SessionError, match="no topic 'nope'"):
        engine.start()


def test_typing_while_listening_keeps_the_recording_as_skipped(store):
    recorder = FakeRecorder()
    engine = make(store, ports=Ports(FakeSpeaker(), recorder, FakeTranscriber("x"), FakeGrader()))
    engine.start()
    engine.next_question()
    spoken = engine.start_answer()
    a = engine.submit_typed("anchor")
    assert a.score == pytest.approx(1 / 3, abs=1e-3) and engine.phase is Phase.FEEDBACK
    assert recorder.stopped == 1 and store.get_attempt(spoken.id).state == "skipped"
    assert engine.attempt.typed and engine.attempt.id != spoken.id
    assert engine.finish().results[0].state == "graded"


def test_finish_before_start_is_illegal(store):
    engine = make(store)
    with pytest.raises(IllegalTransition, match="never started"):
        engine.finish()
    assert engine.phase is Phase.IDLE


def test_skip_while_transcribing_in_another_thread_keeps_the_skip(store):
    class SlowTranscriber(FakeTranscriber):
        def transcribe(self, clip, hint=""):
            engine.skip()  # the user presses skip while whisper runs
            return super().transcribe(clip, hint)

    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), SlowTranscriber("apple"), FakeGrader()))
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    assert engine.phase is Phase.FEEDBACK
    row = store.get_attempt(attempt.id)
    assert row.state == "skipped" and row.transcript == "apple"
    assert engine.next_question().id == "q2"
