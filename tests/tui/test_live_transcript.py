"""Pilot tests: the interview screen shows the transcript while the answer is
still being spoken (the engine transcribes it incrementally), through the REAL
session engine, the real incremental transcriber and a REAL SQLite file; the
recorder is a fake that streams its clip like the real one."""

from __future__ import annotations

import asyncio

from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import (
    AnswerRecorded,
    AnswerStarted,
    TranscriptReady,
    TranscriptUpdated,
)
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.interview import InterviewScreen, UiState
from interviewer.tui.widgets.transcript import TranscriptView
from tests.session.test_incremental_engine import FIRST, TAIL, StreamingRecorder, spoken_answer
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (80, 24)


def shown(screen: InterviewScreen) -> str:
    return str(screen.query_one("#iv-transcript", TranscriptView).content)


def test_partial_transcript_shows_up_before_the_answer_ends(tmp_path):
    recorder = StreamingRecorder(spoken_answer(10.0, 1.0, 5.0))
    rig = build(tmp_path, recorder=recorder, texts=[FIRST, TAIL],
                start=StartRequest("practice", SessionConfig(mode="practice", count=1)))
    seen: dict[str, object] = {}

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            screen = rig.app.screen
            assert isinstance(screen, InterviewScreen) and screen.state is UiState.READY
            await pilot.press("space")
            await wait_for(pilot, lambda: screen.state is UiState.LISTENING)
            await wait_for(pilot, lambda: FIRST in shown(screen))
            # still listening: the microphone was never stopped
            seen["state"], seen["stopped"] = screen.state, recorder.stopped
            assert TAIL not in shown(screen)
            await pilot.press("space")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))

    asyncio.run(scenario())
    assert seen == {"state": "listening", "stopped": 0}
    turn = rig.messages(AnswerStarted, TranscriptUpdated, AnswerRecorded, TranscriptReady)
    assert turn == ["AnswerStarted", "TranscriptUpdated", "AnswerRecorded", "TranscriptReady"]
    updated = rig.of(TranscriptUpdated)[0]
    ready = rig.of(TranscriptReady)[0]
    assert updated.text == FIRST and ready.text == f"{FIRST} {TAIL}"
    row = rig.rows()[0]
    assert row["state"] == "graded" and row["transcript"] == f"{FIRST} {TAIL}"


def test_rapid_round_shows_the_live_transcript_and_grades_in_the_background(tmp_path):
    recorder = StreamingRecorder(spoken_answer(10.0, 1.0, 5.0))
    rig = build(tmp_path, recorder=recorder, texts=[FIRST, TAIL],
                start=StartRequest("rapid", SessionConfig(mode="rapid", count=1,
                                                          time_limit_s=45.0)))

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: getattr(rig.app.screen, "state", "") == "listening")
            screen = rig.app.screen
            await wait_for(pilot, lambda: FIRST in shown(screen))
            await pilot.press("space")
            await wait_for(pilot, lambda: not isinstance(rig.app.screen, InterviewScreen))
            await wait_idle(pilot, rig.app)

    asyncio.run(scenario())
    row = rig.rows()[0]
    assert row["state"] == "graded" and row["transcript"] == f"{FIRST} {TAIL}"
    assert rig.messages(TranscriptUpdated) == ["TranscriptUpdated"]
