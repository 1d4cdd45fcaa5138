"""Interrupting the interviewer: space while a question or a follow-up's
probe is read starts recording at once and then stops the voice (Pilot,
REAL engine and store, a fake voice that speaks until cancelled)."""

from __future__ import annotations

import asyncio
import threading
import time

from interviewer.config import Settings
from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import FollowUpAsked
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.interview import UiState
from tests.session.fakes import FakeRecorder, FakeSpeaker, probe_bank
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (100, 30)


class TalkativeSpeaker(FakeSpeaker):
    """Reads each text for ``seconds`` unless cancelled first; notes in
    ``events`` when it began, and whether it was cut off or finished."""

    def __init__(self, events: list[str], seconds: float = 10.0) -> None:
        super().__init__()
        self.events = events
        self.seconds = seconds

    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        self.spoken.append(text)
        self.events.append("voice starts")
        stopped = cancel.wait(self.seconds) if cancel is not None else False
        self.events.append("voice cut off" if stopped else "voice finished")


def talkative(tmp_path, texts, **kw):
    events: list[str] = []
    recorder = FakeRecorder(on_start=lambda path: events.append("recording starts"))
    rig = build(tmp_path, texts=texts, speaker=TalkativeSpeaker(events), recorder=recorder, **kw)
    return rig, events


async def interrupt(pilot, rig, events, count: int) -> float:
    """Wait until the voice reads its ``count``-th text, press space; returns
    how long until the recorder ran and the voice was cut off."""
    screen = rig.app.screen
    await wait_for(pilot, lambda: events.count("voice starts") == count
                   and screen.state is UiState.SPEAKING)
    pressed = time.monotonic()
    await pilot.press("space")
    await wait_for(pilot, lambda: screen.state is UiState.LISTENING
                   and events.count("voice cut off") == count)
    return time.monotonic() - pressed


def test_space_while_the_question_is_read_records_at_once_and_stops_the_voice(tmp_path):
    start = StartRequest("practice", SessionConfig(mode="practice", count=1))
    rig, events = talkative(tmp_path, "an apple and an anchor", start=start)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            took = await interrupt(pilot, rig, events, 1)
            assert took < 2.0, took  # not the ten seconds the voice would have taken
            assert events == ["voice starts", "recording starts", "voice cut off"]
            await pilot.press("space")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    (row,) = rig.rows()
    assert row["state"] == "graded" and row["transcript"] == "an apple and an anchor"
    # the recording began while the question was still being read
    names = rig.messages()
    assert names.index("AnswerStarted") < names.index("QuestionSpoken"), names
    assert names.count("AnswerStarted") == 1


def test_space_while_a_probe_is_read_records_the_reply_at_once(tmp_path):
    settings = Settings(session_count=1, followups=1)
    start = StartRequest("practice", SessionConfig(mode="practice", count=1))
    rig, events = talkative(tmp_path, ["apple", "the anchor"], bank=probe_bank(),
                            settings=settings, start=start)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await interrupt(pilot, rig, events, 1)
            await pilot.press("space")  # the answer ends; the probe is read next
            await wait_for(pilot, lambda: rig.of(FollowUpAsked))
            took = await interrupt(pilot, rig, events, 2)
            assert took < 2.0, took
            assert events[3:] == ["voice starts", "recording starts", "voice cut off"]
            await pilot.press("space")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            assert rig.app.screen.grade.count("prompted") == 1
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    (f,) = rig.rows("SELECT * FROM followups")
    assert (f["state"], f["transcript"]) == ("graded", "the anchor")


def test_t_while_the_question_is_read_stops_the_voice_and_keeps_the_typing_box(tmp_path):
    start = StartRequest("practice", SessionConfig(mode="practice", count=1))
    rig, events = talkative(tmp_path, "unused", start=start)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            screen = rig.app.screen
            await wait_for(pilot, lambda: events == ["voice starts"])
            await pilot.press("t")
            await wait_for(pilot, lambda: events[-1] == "voice cut off")
            await wait_idle(pilot, rig.app)
            assert screen.state is UiState.TYPING  # not put back to "ready" by the cut-off voice
            await pilot.press(*"apple")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))

    run(scenario())


def run(coro):
    return asyncio.run(coro)
