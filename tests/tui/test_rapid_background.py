"""Pilot test of a rapid-fire round graded in the background: the REAL
engine and SQLite store, fake audio, and a recogniser held on an Event so
the test decides when the first answer's grading may finish."""

from __future__ import annotations

import asyncio
import json
import threading

from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import AnswerScored
from interviewer.tui.screens.interview import InterviewScreen, UiState
from interviewer.tui.screens.summary import SummaryScreen
from tests.session.fakes import FakeGrader, FakeTranscriber
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (80, 24)
TEXTS = ["apple banana cherry", "anchor bridge castle", "arrow bottle candle date"]


class HeldTranscriber(FakeTranscriber):
    """Waits for ``gate`` before answering; ``entered`` counts calls begun."""

    def __init__(self, texts, gate: threading.Event) -> None:
        super().__init__(texts)
        self.gate = gate
        self.entered = threading.Semaphore(0)

    def transcribe(self, clip, hint=""):
        self.entered.release()
        assert self.gate.wait(15), "the test never released the recogniser"
        return super().transcribe(clip, hint)


def _names(rig) -> list[str]:
    return rig.messages()


def _names_of(rig, name: str) -> list[str]:
    return [n for n in _names(rig) if n == name]


def test_rapid_round_asks_the_next_question_while_grading_the_last(tmp_path):
    gate = threading.Event()
    rig = build(
        tmp_path,
        start=StartRequest("rapid", SessionConfig(mode="rapid", count=3, time_limit_s=45.0)),
    )
    held = HeldTranscriber(TEXTS, gate)
    object.__setattr__(rig.ports, "transcriber", held)

    def progress(screen) -> str:
        return screen.query_one("#iv-progress").render().plain

    def listening_on(n: int):
        def check() -> bool:
            screen = rig.app.screen
            return (isinstance(screen, InterviewScreen) and screen.state is UiState.LISTENING
                    and progress(screen).endswith(f"{n} of 3"))
        return check

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_for(pilot, listening_on(1))
            rig.clock.advance(46.0)  # time is up for question 1
            await wait_for(pilot, listening_on(2))
            screen = rig.app.screen
            # question 2 is on screen while question 1 is still in the recogniser
            assert held.entered.acquire(timeout=5)
            assert "AnswerScored" not in _names(rig)
            assert [r["state"] for r in rig.rows()] == ["recorded", "recording"]
            badge = screen.query_one("#iv-bg")
            assert badge.display and "grading 1 in the background" in badge.render().plain
            rig.clock.advance(46.0)
            await wait_for(pilot, listening_on(3))
            assert "grading 2 in the background" in badge.render().plain
            rig.clock.advance(46.0)  # the last answer: the summary waits for the grades
            await wait_for(pilot, lambda: screen.state is UiState.WAITING)
            assert rig.app.screen is screen and screen.query_one("#iv-wait").display
            assert "0 of 3 done" in screen.query_one("#iv-wait-step").render().plain
            assert "grading the last answers" in screen.query_one("#iv-state").render().plain
            gate.set()
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))
            await wait_idle(pilot, rig.app)
            table = rig.app.screen.query_one("DataTable")
            cells = [table.get_row_at(i) for i in range(table.row_count)]
            return cells

    cells = run(scenario())
    names = _names(rig)
    # the second question was asked before the first answer was scored
    asked = [i for i, n in enumerate(names) if n == "QuestionAsked"]
    scored = [i for i, n in enumerate(names) if n == "AnswerScored"]
    assert len(asked) == 3 and len(scored) == 3
    assert asked[2] < scored[0]
    assert names.index("RoundGrading") < scored[0] < names.index("SessionFinished")
    assert max(scored) < names.index("SessionFinished")
    # the summary lists all three answers with the scores the grader gives them
    rows = rig.rows()
    assert [r["state"] for r in rows] == ["graded"] * 3
    grader = FakeGrader()
    expected = [grader(rig.bank.get(r["question_id"]), text).score for r, text in zip(rows, TEXTS, strict=True)]
    assert [r["score"] for r in rows] == expected
    assert len(cells) == 3
    assert [c[1] for c in cells] == [r["question_id"] for r in rows]
    assert [c[2] for c in cells] == [str(round(s * 100)) for s in expected]
    assert [c[3] for c in cells] == ["45s"] * 3
    assert all(json.loads(r["extra"])["background"] for r in rows)
    scored_ids = [m.question_id for m in rig.of(AnswerScored)]
    assert scored_ids == [r["question_id"] for r in rows]
    # spaced repetition counted the background-graded answers
    assert len(rig.store.reviews(rig.bank.name)) == sum(s is not None for s in expected)


def test_escape_while_waiting_shows_the_summary_and_keeps_ungraded_answers(tmp_path):
    gate = threading.Event()
    rig = build(
        tmp_path,
        start=StartRequest("rapid", SessionConfig(mode="rapid", count=2, time_limit_s=30.0)),
    )
    held = HeldTranscriber(TEXTS, gate)
    object.__setattr__(rig.ports, "transcriber", held)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            for n in (1, 2):
                await wait_for(pilot, lambda n=n: len(_names_of(rig, "AnswerStarted")) == n
                               and rig.app.screen.state is UiState.LISTENING)
                rig.clock.advance(31.0)
            await wait_for(pilot, lambda: getattr(rig.app.screen, "state", "") == "waiting")
            assert held.entered.acquire(timeout=5)  # the first answer is in the recogniser
            await pilot.press("escape")  # stop waiting
            await pilot.pause(0.2)
            gate.set()  # the answer being transcribed finishes; the queued one is kept
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))
            await wait_idle(pilot, rig.app)
            note = rig.app.screen.query_one("#sum-ungraded").render().plain
            table = rig.app.screen.query_one("DataTable")
            return note, [table.get_row_at(i) for i in range(table.row_count)]

    note, cells = run(scenario())
    assert "1 answer could not be graded in time" in note
    assert [r["state"] for r in rig.rows()] == ["graded", "recorded"]
    assert [c[4] for c in cells] == ["graded, time up", "not graded: kept for recovery, time up"]
    assert rig.rows("SELECT * FROM sessions")[0]["ended_at"] is not None


def run(coro):
    return asyncio.run(coro)
