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
from interviewer.session.answers import regrade_attempt
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


def test_finish_mid_answer_keeps_and_grades_what_was_said_and_is_idempotent(store):
    engine = make(store)
    engine.start()
    engine.next_question()
    attempt = engine.start_answer()
    s1 = engine.finish()
    assert engine.phase is Phase.DONE
    row = store.get_attempt(attempt.id)
    assert row.state == "graded" and row.transcript and Path(row.audio_path).exists()
    assert [r.state for r in s1.results] == ["graded"] and s1.answered == 1
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
    updated, _ = regrade_attempt(store, sample_bank(), fixed_grader(0.25), attempt_id)
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


# -- rapid rounds graded in the background ------------------------------------------

import threading  # noqa: E402

from interviewer.session.background import BackgroundQueue  # noqa: E402


class GatedTranscriber(FakeTranscriber):
    """A slow recogniser: each call waits for ``gate`` (a test opens it), and
    it notes how many calls ever ran at the same time."""

    def __init__(self, texts, gate: threading.Event, fail_first: bool = False) -> None:
        super().__init__(texts)
        self.gate = gate
        self.fail_first = fail_first
        self.entered = threading.Semaphore(0)
        self.active = 0
        self.most_active = 0
        self.calls = 0
        self._count = threading.Lock()

    def transcribe(self, clip, hint=""):
        with self._count:
            self.active += 1
            self.calls += 1
            self.most_active = max(self.most_active, self.active)
            call = self.calls
        self.entered.release()
        try:
            assert self.gate.wait(10), "the test never opened the gate"
            if self.fail_first and call == 1:
                from audio.errors import ModelUnavailable

                raise ModelUnavailable("the speech model is missing; run 'interviewer doctor'")
            return super().transcribe(clip, hint)
        finally:
            with self._count:
                self.active -= 1


RAPID = SessionConfig(mode="rapid", bank="sample", count=3, order="sequential", time_limit_s=20)


def answer_and_defer(engine, clock, seconds):
    engine.next_question()
    engine.ask()
    engine.start_answer()
    clock.advance(seconds)
    return engine.defer_answer()


def test_next_question_is_asked_before_the_previous_answer_is_graded(store):
    gate = threading.Event()
    clock = FakeClock()
    transcriber = GatedTranscriber(["apple", "banana bridge", "cherry castle candle"], gate)
    grader = FakeGrader()
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), transcriber, grader),
                  config=RAPID, clock=clock)
    seen = []
    engine.on_graded = lambda g: seen.append((g.result.question_id, threading.current_thread().name))
    engine.start()
    first = answer_and_defer(engine, clock, 5)
    assert engine.phase is Phase.FEEDBACK
    assert store.get_attempt(first).state == "recorded"
    assert transcriber.entered.acquire(timeout=5)  # the worker is inside the recogniser
    # the next question is asked while the first answer is still being transcribed
    q2 = engine.next_question()
    assert q2.id == "q2" and engine.phase is Phase.ASKING
    assert engine.pending() == 1 and store.get_attempt(first).state == "recorded"
    # time spent grading in the background is not taken from the next answer
    assert engine.remaining_s() == pytest.approx(20)
    engine.ask()
    engine.start_answer()
    clock.advance(3)
    assert engine.remaining_s() == pytest.approx(17)
    second = engine.defer_answer()
    answer_and_defer(engine, clock, 25)  # q3 runs out of time
    assert engine.pending() == 3 and grader.calls == []
    with pytest.raises(IllegalTransition, match="background"):
        engine.grade()  # the worker owns this answer now
    gate.set()
    assert engine.next_question() is None
    summary = engine.finish()
    assert engine.pending() == 0
    assert [r.question_id for r in summary.results] == ["q1", "q2", "q3"]
    assert [r.state for r in summary.results] == ["graded"] * 3
    assert [r.score for r in summary.results] == pytest.approx([1 / 3, 2 / 3, 1.0], abs=1e-3)
    assert [r.answer_time_s for r in summary.results] == pytest.approx([5, 3, 20])
    assert summary.results[2].timed_out and summary.ungraded == ()
    # results came in the order the answers were given, from the worker thread
    assert seen == [(q, "interviewer-grading") for q in ("q1", "q2", "q3")]
    assert [q for q, _ in grader.calls] == ["q1", "q2", "q3"]
    assert transcriber.most_active == 1  # never two transcriptions at once
    row = store.get_attempt(second)
    assert row.transcript == "banana bridge" and row.extra["background"] is True
    assert row.delivery is not None and row.extra["asr"]["engine"] == "fake"
    # spaced repetition counted every background-graded answer, once
    reviews = store.reviews("sample")
    assert sorted(r["attempt_id"] for r in reviews) == sorted(r.attempt_id for r in summary.results)


def test_defer_is_only_legal_while_answering(store):
    engine = make(store, config=RAPID)
    engine.start()
    engine.next_question()
    with pytest.raises(IllegalTransition, match="hand off the answer while asking"):
        engine.defer_answer()
    engine.start_answer()
    engine.stop_answer()  # already stopped: deferring from TRANSCRIBING is fine
    attempt_id = engine.defer_answer()
    assert engine.finish().results[0].attempt_id == attempt_id
    assert store.get_attempt(attempt_id).state == "graded"


def test_finish_timeout_leaves_ungraded_answers_recoverable(store):
    gate = threading.Event()
    clock = FakeClock()
    transcriber = GatedTranscriber(["apple", "banana"], gate)
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), transcriber, FakeGrader()),
                  config=RAPID, clock=clock)
    engine.start()
    first = answer_and_defer(engine, clock, 4)
    second = answer_and_defer(engine, clock, 4)
    assert transcriber.entered.acquire(timeout=5)
    # still grading while the engine runs: not offered as interrupted
    assert engine.recover_interrupted() == []
    summary = engine.finish(wait_s=0.2)
    assert summary.ungraded == (first, second)
    assert [r.state for r in summary.results] == ["recorded", "recorded"]
    assert summary.total == 0 and summary.answered == 0
    assert {a.id for a in engine.recover_interrupted()} == {first, second}
    gate.set()  # the answer being transcribed still finishes; the other never started
    assert engine._background.drain(5)
    assert store.get_attempt(first).state == "graded"
    assert store.get_attempt(second).state == "recorded"
    later = make(store, ports=Ports(transcriber=FakeTranscriber("banana bridge"), grader=FakeGrader()))
    assert [a.id for a in later.recover_interrupted()] == [second]
    recovered = later.recover(second)
    assert recovered.state == "graded" and recovered.score == pytest.approx(2 / 3, abs=1e-3)


def test_a_failed_background_grade_is_reported_and_kept_for_recovery(store):
    gate = threading.Event()
    gate.set()
    clock = FakeClock()
    transcriber = GatedTranscriber(["apple", "banana"], gate, fail_first=True)
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(), transcriber, FakeGrader()),
                  config=RAPID, clock=clock)
    got = []
    engine.on_graded = got.append
    engine.start()
    first = answer_and_defer(engine, clock, 4)
    second = answer_and_defer(engine, clock, 4)
    engine.next_question()
    summary = engine.finish()
    assert [g.result.attempt_id for g in got] == [first, second]
    assert got[0].error == "the speech model is missing; run 'interviewer doctor'"
    assert got[0].assessment is None and got[1].error is None
    assert store.get_attempt(first).state == "recorded"
    assert store.get_attempt(first).error == got[0].error
    assert summary.ungraded == (first,)
    assert [r.state for r in summary.results] == ["recorded", "graded"]  # the third: only asked
    assert [a.id for a in engine.recover_interrupted()] == [first]


def test_deferred_silence_is_no_speech_without_the_recogniser(store):
    clock = FakeClock()
    transcriber = FakeTranscriber("never used")
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(speech=False), transcriber, FakeGrader()),
                  config=RAPID, clock=clock)
    engine.start()
    answer_and_defer(engine, clock, 2)
    summary = engine.finish()
    assert transcriber.clips == []
    assert summary.results[0].no_speech and summary.results[0].score is None
    assert summary.results[0].state == "graded"


def test_personal_best_with_background_grading(store):
    clock = FakeClock()
    cfg = SessionConfig(mode="rapid", bank="sample", count=2, order="sequential", time_limit_s=20)

    def round_(texts):
        ports = Ports(FakeSpeaker(), FakeRecorder(), FakeTranscriber(texts), FakeGrader())
        engine = make(store, ports=ports, config=cfg, clock=clock)
        engine.start()
        for _ in texts:
            answer_and_defer(engine, clock, 6)
        engine.next_question()
        return engine.finish()

    first = round_(["apple", "banana"])
    assert first.new_best and first.previous_best is None
    assert first.total == pytest.approx(2 / 3, abs=1e-3)
    worse = round_(["nothing", "nothing"])
    assert not worse.new_best and worse.previous_best == pytest.approx(first.total)
    better = round_(["apple anchor", "banana bridge bottle"])
    assert better.new_best and better.previous_best == pytest.approx(first.total)
    assert better.total == pytest.approx(5 / 3, abs=1e-3)


def test_background_queue_runs_jobs_in_order_and_survives_a_failure():
    done = []
    release = threading.Event()

    def work(n):
        release.wait(5)
        if n == 2:
            raise ValueError("bad job")
        return n * 10

    queue = BackgroundQueue(work, on_done=done.append, name="t")
    for n in (1, 2, 3, 4):
        queue.submit(n)
    assert queue.pending() == 4
    assert not queue.drain(0.05)
    release.set()
    assert queue.drain(5)
    assert queue.results() == [10, 30, 40] and done == [10, 30, 40]
    assert [str(e) for e in queue.errors()] == ["bad job"]
    assert queue.pending() == 0
    assert queue.close() == []
    with pytest.raises(RuntimeError):
        queue.submit(5)


@pytest.mark.slow
@pytest.mark.e2e
def test_real_whisper_grades_a_rapid_round_in_the_background(whisper_tiny, tmp_path):
    """Real speech and the bundled recogniser: handing an answer off takes a
    moment, not the transcription, and every answer is graded by the end."""
    import time

    from audio.clip import read_audio
    from questions.model import Bank, KeyPoint, Question
    from tests.conftest import TEST_DATA

    speech = tuple(
        Question(
            id=f"civic-{i}",
            prompt=f"What did the speech ask of citizens ({i})?",
            reference="To ask what they can do for their country.",
            key_points=(KeyPoint("do for your country"), KeyPoint("fellow Americans"),
                        KeyPoint("pay any price")),
            topics=("speeches",),
        )
        for i in range(3)
    )
    bank = Bank(name="speeches", title="Speeches", questions=speech)
    transcriber = whisper_tiny
    store = Store(tmp_path / "attempts.sqlite3")
    ports = Ports(FakeSpeaker(), FakeRecorder(clip=read_audio(TEST_DATA / "jfk.flac")), transcriber,
                  FakeGrader())
    cfg = SessionConfig(mode="rapid", bank="speeches", count=3, order="sequential", time_limit_s=45)
    engine = SessionEngine(bank, store, ports, Settings(), cfg, clock=FakeClock(), rng=random.Random(0))
    engine.start()
    hand_offs = []
    try:
        while engine.next_question() is not None:
            engine.start_answer()
            began = time.perf_counter()
            engine.defer_answer()  # stops the recorder and queues the answer
            hand_offs.append(time.perf_counter() - began)
            if engine.index == 0:
                # the first answer is still queued or in whisper when the next is asked
                assert engine.pending() == 1
        summary = engine.finish()
        rows = [store.get_attempt(r.attempt_id) for r in summary.results]
    finally:
        store.close()
    assert [r.state for r in summary.results] == ["graded"] * 3 and summary.ungraded == ()
    assert all("your country" in row.transcript.lower() for row in rows)
    whisper = [row.extra["asr"]["elapsed_s"] for row in rows]
    print(f"hand-off {max(hand_offs) * 1000:.0f} ms; whisper per answer {whisper} s")
    assert max(hand_offs) < min(whisper), (hand_offs, whisper)


@pytest.mark.parametrize("mode", ["practice", "rapid"])
@pytest.mark.parametrize("phase", ["asking", "listening", "transcribing", "feedback"])
def test_ending_in_any_phase_grades_what_was_said(store, mode, phase):
    """The first question is answered; the session ends during the second."""
    clock = FakeClock()
    config = SessionConfig(mode=mode, bank="sample", count=3, seed=3)
    engine = make(store, ports=Ports(FakeSpeaker(), FakeRecorder(),
                                     FakeTranscriber(["an apple", "a banana"]), FakeGrader()),
                  config=config, clock=clock)
    engine.start()
    engine.next_question()
    engine.start_answer()
    clock.advance(4)
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    engine.next_question()
    if phase != "asking":
        engine.start_answer()
        clock.advance(3)
    if phase in ("transcribing", "feedback"):
        engine.stop_answer()
    if phase == "feedback":
        engine.transcribe()
        engine.grade()
    summary = engine.finish()
    states = [r.state for r in summary.results]
    if phase == "asking":
        assert states == ["graded"]
    else:
        assert states == ["graded", "graded"] and summary.answered == 2
        second = store.get_attempt(summary.results[1].attempt_id)
        assert second.transcript == "a banana" and second.score is not None
    assert summary.ungraded == () and not engine.recover_interrupted()
