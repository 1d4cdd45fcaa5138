"""Ending a session at any moment keeps what was said, grades it and shows
the summary of the questions answered so far, in practice and rapid-fire.

Each case answers the first question, then ends the session while the
second is being asked, listened to, transcribed, or shown as feedback. The
slow steps are held open by gates, so the end really lands in that phase.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import AnswerScored, SessionFinished
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.interview import UiState
from interviewer.tui.screens.summary import SummaryScreen
from tests.session.fakes import FakeSpeaker, FakeTranscriber
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (80, 24)


class HeldSpeaker(FakeSpeaker):
    """Speaks the first question at once; the others until cancelled."""

    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        super().speak(text, cancel)
        if len(self.spoken) > 1 and cancel is not None:
            cancel.wait(10)


class HeldTranscriber(FakeTranscriber):
    """Transcribes the first answer at once, the others once ``gate`` opens."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def transcribe(self, clip, hint="", *, context="", beam_size=None):
        if self.clips:
            self.waiting.set()
            self.gate.wait(10)
        return super().transcribe(clip, hint, context=context, beam_size=beam_size)


def state(rig) -> object:
    return getattr(rig.app.screen, "state", None)


CASES = [
    ("practice", "asking"), ("practice", "listening"), ("practice", "transcribing"),
    ("practice", "feedback"),
    ("rapid", "asking"), ("rapid", "listening"), ("rapid", "transcribing"),
]


@pytest.mark.parametrize(("mode", "phase"), CASES)
def test_ending_a_session_in_any_phase_grades_and_summarises(tmp_path, mode, phase):
    speaker = HeldSpeaker() if phase == "asking" else FakeSpeaker()
    config = SessionConfig(mode=mode, count=3, time_limit_s=45.0 if mode == "rapid" else None)
    rig = build(tmp_path, speaker=speaker, start=StartRequest(mode, config))
    transcriber = HeldTranscriber(["an apple and an anchor", "a banana on a bridge"])
    object.__setattr__(rig.ports, "transcriber", transcriber)
    rapid = mode == "rapid"

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            # the first question: answered and graded
            if not rapid:
                await wait_for(pilot, lambda: state(rig) is UiState.READY)
                await pilot.press("space")
            await wait_for(pilot, lambda: state(rig) is UiState.LISTENING)
            await pilot.press("space")
            if not rapid:
                await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
                await pilot.press("n")
            # the second question, in the phase under test
            if phase == "asking":
                await wait_for(pilot, lambda: len(speaker.spoken) == 2)
                await wait_for(pilot, lambda: state(rig) is UiState.SPEAKING)
            else:
                if not rapid:
                    await wait_for(pilot, lambda: state(rig) is UiState.READY)
                    await pilot.press("space")
                await wait_for(pilot, lambda: state(rig) is UiState.LISTENING)
                if phase in ("transcribing", "feedback"):
                    await pilot.press("space")
                    if phase == "transcribing":
                        await wait_for(pilot, transcriber.waiting.is_set)
                        if rapid:  # the round has moved on to the third question
                            await wait_for(pilot, lambda: state(rig) is UiState.LISTENING)
            if phase == "feedback":
                transcriber.gate.set()
                await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
                await pilot.press("escape")  # the feedback screen's "end session"
            else:
                await pilot.press("escape")
                await pilot.pause()
                await pilot.press("y")
                await pilot.pause(0.2)
                transcriber.gate.set()
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen), timeout=15)
            await wait_idle(pilot, rig.app)
            table = rig.app.screen.query_one("DataTable")
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            errors = [n.message for n in rig.app._notifications if n.severity == "error"]
            return rows, errors

    shown, errors = asyncio.run(scenario())
    assert errors == []
    summary = rig.of(SessionFinished)[0].summary
    stored = rig.rows()
    answered = 1 if phase == "asking" else 2
    if rapid and phase == "transcribing":
        answered = 3  # the third answer was being recorded when the round ended
    assert [r.state for r in summary.results] == ["graded"] * answered
    assert [r["state"] for r in stored] == ["graded"] * answered
    assert all(r["transcript"] and r["score"] is not None for r in stored)
    assert len(shown) == answered and all(row[-1] == "graded" for row in shown)
    assert rig.rows("SELECT * FROM sessions")[0]["ended_at"] is not None
    assert len(rig.messages(SessionFinished)) == 1
    if not rapid:
        assert len(rig.of(AnswerScored)) >= 1
