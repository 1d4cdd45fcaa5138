"""The review screens over a REAL store: table, filters, detail, compare,
re-grading with progress, charts and replay."""

from __future__ import annotations

import asyncio
import json

from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import PlaybackEnded, RegradeProgressed
from interviewer.tui.screens.compare import CompareScreen
from interviewer.tui.screens.detail import AttemptDetailScreen
from interviewer.tui.screens.review import ReviewScreen
from tests.session.fakes import fixed_grader
from tests.tui.harness import build, seed_attempts, wait_for, wait_idle

SIZE = (80, 24)


def test_review_filters_opens_compares_and_regrades(tmp_path):
    rig = build(tmp_path, start=StartRequest("review"))
    # three old attempts graded by an older "matcher" that gave everything 10
    seed_attempts(
        rig,
        [("q1", "an apple"), ("q1", "an apple and an anchor"), ("q3", "a cherry")],
        grader=fixed_grader(0.1),
    )

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            screen = rig.app.screen
            assert isinstance(screen, ReviewScreen)
            table = screen.query_one("DataTable")
            assert table.row_count == 3
            # filter by topic: q1 is "alpha", q3 is "beta"
            screen.query_one("#f-topic").value = "alpha"
            await pilot.pause()
            assert table.row_count == 2
            screen.query_one("#f-topic").value = ""
            screen.query_one("#f-score").value = "50"
            await pilot.pause()
            assert table.row_count == 0
            screen.query_one("#f-score").value = ""
            await pilot.pause()
            table.focus()
            # newest first: row 0 is the q3 attempt; move to the newest q1 attempt
            await pilot.press("down", "enter")
            await wait_idle(pilot, rig.app)
            detail = rig.app.screen
            assert isinstance(detail, AttemptDetailScreen)
            assert detail.attempt.question_id == "q1"
            await pilot.press("p")  # typed attempt: no audio, a notice
            await pilot.pause()
            assert any("typed" in n.message for n in rig.app._notifications)
            await pilot.press("c")
            await wait_idle(pilot, rig.app)
            cmp = rig.app.screen
            assert isinstance(cmp, CompareScreen)
            assert len(cmp.attempts) == 2
            await pilot.press("escape", "escape")
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, ReviewScreen)
            await pilot.press("g")  # re-grade every shown attempt with the current grader
            await wait_idle(pilot, rig.app, rounds=5)
            await pilot.press("h")
            await pilot.pause()
            assert rig.app.screen.query_one("#rv-chart").display

    run = asyncio.run
    run(scenario())
    progress = rig.of(RegradeProgressed)
    assert progress and progress[-1].done == progress[-1].total == 3
    rows = {r["id"]: r for r in rig.rows()}
    # the current (fake) grader credits the words present: q1 "apple" + "anchor" = 2/3
    assert abs(rows[2]["score"] - 2 / 3) < 1e-3
    assert abs(rows[1]["score"] - 1 / 3) < 1e-3
    assert progress[-1].changed == 3
    for r in rows.values():
        history = json.loads(r["grade_history"])
        assert history and history[0]["score"] == 0.1
        assert history[0]["grader"].endswith("fixed_grader.<locals>.grade")
        # re-graded through the session's pipeline: the grader that graded is named
        assert json.loads(r["extra"])["grader"] == "tests.session.fakes.FakeGrader"
        assert r["transcript_edited"] == 0


def test_detail_edit_regrades_and_replay_ends_cleanly(tmp_path):
    rig = build(tmp_path, start=StartRequest("review"))
    seed_attempts(rig, [("q2", "a bottle")], spoken=True)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("enter")
            await wait_idle(pilot, rig.app)
            detail = rig.app.screen
            assert isinstance(detail, AttemptDetailScreen)
            await pilot.press("e")
            await pilot.pause()
            rig.app.screen.query_one("TextArea").text = "a banana on a bridge with a bottle"
            await pilot.press("ctrl+s")
            await wait_idle(pilot, rig.app)
            assert detail.attempt.transcript_edited
            assert detail.attempt.score == 1.0
            await pilot.press("p")  # real playback: a device or a one-line notice
            await wait_for(pilot, lambda: "PlaybackEnded" in rig.messages(), timeout=20)

    asyncio.run(scenario())
    row = rig.rows()[0]
    assert row["transcript_edited"] == 1 and row["score"] == 1.0
    assert json.loads(row["extra"])["grader"] == "tests.session.fakes.FakeGrader"
    assert [h["transcript"] for h in json.loads(row["grade_history"])] == ["a bottle"]
    ended = rig.of(PlaybackEnded)
    assert ended[0].notice is None or "\n" not in ended[0].notice


def test_correcting_a_typed_answer_is_not_an_edited_transcript(tmp_path):
    rig = build(tmp_path, start=StartRequest("review"))
    seed_attempts(rig, [("q2", "a bottle")])

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("enter")
            await wait_idle(pilot, rig.app)
            detail = rig.app.screen
            assert isinstance(detail, AttemptDetailScreen)
            await pilot.press("e")
            await pilot.pause()
            rig.app.screen.query_one("TextArea").text = "a banana on a bridge with a bottle"
            await pilot.press("ctrl+s")
            await wait_idle(pilot, rig.app)
            assert detail.attempt.score == 1.0 and not detail.attempt.transcript_edited

    asyncio.run(scenario())
    row = rig.rows()[0]
    assert row["typed"] == 1 and row["transcript"] == "a banana on a bridge with a bottle"
    assert row["transcript_edited"] == 0
    assert json.loads(row["extra"])["grader"] == "tests.session.fakes.FakeGrader"
