"""The feedback screen reads the model answer (r) or just the missed key
points (m) aloud with the session's voice; the same key again, the other
key, or leaving the screen stops it (Pilot, REAL engine and store)."""

from __future__ import annotations

import asyncio

from interviewer.config import Settings
from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.screens.feedback import FeedbackScreen
from tests.session.fakes import FakeRecorder, probe_bank
from tests.tui.harness import build, wait_for, wait_idle
from tests.tui.test_interrupt import TalkativeSpeaker

SIZE = (100, 30)
REFERENCE = "Apple, anchor, arrow and anvil."


def run(coro):
    return asyncio.run(coro)


def at_feedback(tmp_path, texts, *, followups=0):
    events: list[str] = []
    speaker = TalkativeSpeaker(events, seconds=0.0)
    rig = build(tmp_path, texts=texts, speaker=speaker, recorder=FakeRecorder(), bank=probe_bank(),
                settings=Settings(session_count=1, followups=followups),
                start=StartRequest("practice", SessionConfig(mode="practice", count=1)))
    return rig, speaker, events


async def answer(pilot, rig):
    await wait_idle(pilot, rig.app)
    await pilot.press("space")
    await wait_for(pilot, lambda: rig.app.screen.state == "listening")
    await pilot.press("space")
    await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))


def test_r_reads_the_reference_and_m_the_missed_points(tmp_path):
    rig, speaker, events = at_feedback(tmp_path, "an apple and an anvil")

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await answer(pilot, rig)
            await pilot.press("r")
            await wait_for(pilot, lambda: speaker.spoken[-1] == REFERENCE)
            await wait_for(pilot, lambda: rig.app.screen.reading is None)
            await pilot.press("m")
            await wait_for(pilot, lambda: speaker.spoken[-1].startswith("Key points missed"))
            assert speaker.spoken[-1] == "Key points missed: anchor. arrow."
            await wait_for(pilot, lambda: rig.app.screen.reading is None)
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())


def test_a_point_given_after_the_prompt_is_not_read_as_missed(tmp_path):
    rig, speaker, _ = at_feedback(tmp_path, ["apple", "the anchor"], followups=1)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            for _ in range(2):
                await pilot.press("space")
                await wait_for(pilot, lambda: rig.app.screen.state == "listening")
                await pilot.press("space")
                await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen)
                               or rig.app.screen.state == "ready")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            await pilot.press("m")
            await wait_for(pilot, lambda: speaker.spoken[-1].startswith("Key points missed"))
            assert speaker.spoken[-1] == "Key points missed: arrow. anvil."
            await wait_for(pilot, lambda: rig.app.screen.reading is None)

    run(scenario())


def test_the_same_key_again_or_leaving_stops_the_voice(tmp_path):
    rig, speaker, events = at_feedback(tmp_path, "an apple")

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await answer(pilot, rig)
            speaker.seconds = 10.0  # long readings from now on
            screen = rig.app.screen
            before = len(events)
            await pilot.press("r")
            await wait_for(pilot, lambda: events[before:] == ["voice starts"])
            await pilot.press("r")  # again: stop
            await wait_for(pilot, lambda: events[before:] == ["voice starts", "voice cut off"])
            await wait_for(pilot, lambda: screen.reading is None)
            await pilot.press("m")
            await wait_for(pilot, lambda: events[before + 2:] == ["voice starts"])
            await pilot.press("r")  # the other key: switch
            await wait_for(pilot, lambda: events[before + 2:] == [
                "voice starts", "voice cut off", "voice starts"])
            assert speaker.spoken[-1] == REFERENCE and screen.reading == "reference"
            await pilot.press("n")  # leaving stops it
            await wait_for(pilot, lambda: events[-1] == "voice cut off")
            await wait_idle(pilot, rig.app)

    run(scenario())
