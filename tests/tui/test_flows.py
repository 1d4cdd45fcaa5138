"""Pilot tests: each mode driven through the REAL session engine and a REAL
SQLite file (fake audio ports). They assert the messages the screens handled,
in order, and the rows the store kept."""

from __future__ import annotations

import asyncio
import json

from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import (
    AnswerRecorded,
    AnswerScored,
    AnswerSkipped,
    QuestionAsked,
    QuestionSpoken,
    Regraded,
    SessionFinished,
)
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.home import HomeScreen
from interviewer.tui.screens.interview import InterviewScreen, UiState
from interviewer.tui.screens.summary import SummaryScreen
from tests.session.fakes import FakeRecorder, FakeSpeaker
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (80, 24)
TURN = [
    "QuestionAsked", "QuestionSpoken", "AnswerStarted", "AnswerRecorded",
    "TranscriptReady", "AnswerScored",
]


def run(coro):
    return asyncio.run(coro)


def practice(count: int = 2, **kw) -> StartRequest:
    return StartRequest("practice", SessionConfig(mode="practice", count=count), **kw)


def test_spoken_practice_session_stores_graded_attempts(tmp_path):
    rig = build(tmp_path, texts=["an apple and an anchor", "a banana on a bridge"])

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await pilot.press("p")  # home: practice with the defaults (2 questions)
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, InterviewScreen)
            assert rig.app.screen.state is UiState.READY
            for _ in range(2):
                await pilot.press("space")
                await wait_for(pilot, lambda: rig.app.screen.state is UiState.LISTENING)
                await pilot.press("space")
                await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
                await pilot.press("n")
                await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, SummaryScreen)

    run(scenario())
    assert rig.messages() == ["SessionStarted", *TURN, *TURN, "SessionFinished"]
    rows = rig.rows()
    assert [r["state"] for r in rows] == ["graded", "graded"]
    assert all(r["typed"] == 0 and r["audio_file"] for r in rows)
    scored = rig.of(AnswerScored)
    assert [m.question_id for m in scored] == [r["question_id"] for r in rows]
    # the FakeGrader credits key-point words that appear in the answer
    for m, r in zip(scored, rows, strict=True):
        assert abs(m.assessment.score - r["score"]) < 1e-9
        assert json.loads(r["assessment"])["score"] == r["score"]
    session = rig.rows("SELECT * FROM sessions")[0]
    assert session["mode"] == "practice" and session["ended_at"] is not None
    assert rig.ports.speaker.spoken, "the questions were spoken"


def test_typed_answers_and_hand_correction_regrade(tmp_path):
    rig = build(tmp_path, no_audio=True, start=practice(1, typed=True))

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            screen = rig.app.screen
            assert isinstance(screen, InterviewScreen) and screen.state is UiState.TYPING
            q = screen.question
            await pilot.press(*"nothing relevant")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            first = rig.app.screen.assessment.score
            # correct the "transcript": the answer now names the first key point
            await pilot.press("e")
            await pilot.pause()
            area = rig.app.screen.query_one("TextArea")
            area.text = f"it is about {q.key_points[0].text}"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: rig.of(Regraded))
            fb = rig.app.screen
            assert isinstance(fb, FeedbackScreen)
            assert fb.assessment.score > first
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    rows = rig.rows()
    assert len(rows) == 1 and rows[0]["typed"] == 1 and rows[0]["state"] == "graded"
    assert rows[0]["transcript"].startswith("it is about ")
    history = json.loads(rows[0]["grade_history"])
    assert len(history) == 1 and history[0]["transcript"] == "nothing relevant"
    assert rig.messages()[-1] == "SessionFinished"


def test_no_microphone_falls_back_to_typing(tmp_path):
    rig = build(tmp_path, recorder=FakeRecorder(no_microphone=True), start=practice(1))

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("space")
            await wait_for(pilot, lambda: rig.app.screen.state is UiState.TYPING)
            await pilot.press(*"apple")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))

    run(scenario())
    assert rig.messages()[:5] == [
        "SessionStarted", "QuestionAsked", "QuestionSpoken", "MicrophoneMissing", "AnswerScored",
    ]
    states = [r["state"] for r in rig.rows()]
    assert states == ["failed", "graded"]  # the aborted recording row, then the typed answer


def test_no_speech_engine_shows_the_question_with_a_notice(tmp_path):
    rig = build(tmp_path, speaker=FakeSpeaker(available=False), start=practice(1))

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            spoken = rig.of(QuestionSpoken)
            assert spoken and "no speech engine" in spoken[0].notice
            assert rig.app.screen.state is UiState.READY
            assert any("no speech engine" in n.message for n in rig.app._notifications)

    run(scenario())


def test_skip_and_leave_keep_rows(tmp_path):
    rig = build(tmp_path, start=practice(2))

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("space")
            await wait_for(pilot, lambda: rig.app.screen.state is UiState.LISTENING)
            await pilot.press("s")  # skip mid-answer
            await wait_for(pilot, lambda: "AnswerSkipped" in rig.messages())
            await wait_idle(pilot, rig.app)
            assert rig.app.screen.state is UiState.READY
            await pilot.press("escape")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))
            assert rig.app.screen.query_one("DataTable").row_count == 1  # the skipped one
            await pilot.press("escape")
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, HomeScreen)

    run(scenario())
    assert [r["state"] for r in rig.rows()] == ["skipped"]
    assert rig.rows("SELECT * FROM sessions")[0]["ended_at"] is not None


def test_rapid_round_auto_advances_when_time_is_up(tmp_path):
    rig = build(
        tmp_path,
        texts="apple banana cherry",
        start=StartRequest("rapid", SessionConfig(mode="rapid", count=3, time_limit_s=45.0)),
    )

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            for turn in range(1, 4):
                # the round starts listening by itself; the clock runs out
                await wait_for(pilot, lambda: getattr(rig.app.screen, "state", "") == "listening")
                rig.clock.advance(46.0)
                await wait_for(pilot, lambda t=turn: len(rig.messages(AnswerScored)) == t)
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))
            await wait_idle(pilot, rig.app)
            table = rig.app.screen.query_one("DataTable")
            assert table.row_count == 3

    run(scenario())

    # answers are graded in the background while the next question is asked, so
    # scores interleave with later questions; they come back in the order asked
    assert rig.messages(QuestionAsked) == ["QuestionAsked"] * 3
    asked = [m.question_id for m in rig.of(QuestionAsked)]
    scored = [m.question_id for m in rig.of(AnswerScored)]
    assert scored == asked
    summary = rig.of(SessionFinished)[0].summary
    assert summary.mode == "rapid" and len(summary.results) == 3
    assert summary.new_best  # the first round is a personal best
    rows = rig.rows()
    assert [r["state"] for r in rows] == ["graded"] * 3
    assert all(json.loads(r["extra"])["timed_out"] for r in rows)
    assert all(r["answer_time_s"] == 45.0 for r in rows)
    stopped = [m.stopped_by for m in rig.of(AnswerRecorded)]
    assert stopped == ["user"] * 3  # the engine's limit ended them, recorded as the limit
    assert {json.loads(r["extra"])["stopped_by"] for r in rows} == {"limit"}


def test_typed_rapid_round_submits_what_was_typed_when_time_is_up(tmp_path):
    rig = build(
        tmp_path,
        no_audio=True,
        start=StartRequest("rapid", SessionConfig(mode="rapid", count=2, time_limit_s=30.0),
                           typed=True),
    )

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: getattr(rig.app.screen, "state", "") == "typing")
            await pilot.press(*"apple")
            rig.clock.advance(31.0)  # the countdown submits the text typed so far
            await wait_for(pilot, lambda: len(rig.messages(AnswerScored)) == 1)
            await wait_for(pilot, lambda: rig.messages()[-1] == "QuestionSpoken")
            await wait_for(pilot, lambda: getattr(rig.app.screen, "state", "") == "typing")
            rig.clock.advance(31.0)  # nothing typed: the question is skipped
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))

    run(scenario())
    assert rig.messages(AnswerScored, AnswerSkipped, SessionFinished) == [
        "AnswerScored", "AnswerSkipped", "SessionFinished",
    ]
    rows = rig.rows()
    assert len(rows) == 1 and rows[0]["transcript"] == "apple" and rows[0]["typed"] == 1
    assert json.loads(rows[0]["extra"])["timed_out"] is True


class BrokenTranscriber:
    """A recogniser whose model cannot be loaded."""

    def transcribe(self, clip, hint=""):
        from audio.errors import ModelUnavailable

        raise ModelUnavailable("the speech model is missing; run 'interviewer doctor'")


def test_a_failing_step_is_one_line_and_the_turn_can_be_skipped(tmp_path):
    rig = build(tmp_path, start=practice(2))
    object.__setattr__(rig.ports, "transcriber", BrokenTranscriber())

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("space")
            await wait_for(pilot, lambda: rig.app.screen.state is UiState.LISTENING)
            await pilot.press("space")
            await wait_for(pilot, lambda: rig.app.screen.state is UiState.FAILED)
            errors = [n for n in rig.app._notifications if n.severity == "error"]
            assert [n.message for n in errors] == [
                "the speech model is missing; run 'interviewer doctor'"
            ]
            await pilot.press("s")
            await wait_idle(pilot, rig.app)
            assert rig.app.screen.state is UiState.READY
            assert rig.app.screen.query_one("#iv-progress").render().plain.endswith("2 of 2")

    run(scenario())
    assert [r["state"] for r in rig.rows()] == ["skipped"]
