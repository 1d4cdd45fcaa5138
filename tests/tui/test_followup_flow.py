"""Pilot tests of the follow-up turn on the interview and feedback screens,
through the REAL session engine and SQLite store (fake audio ports): the
probe is shown and spoken, answered by voice or typing or skipped, and the
feedback shows which points came unprompted and which after the prompt."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from interviewer.config import Settings
from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from interviewer.tui.messages import AnswerScored, FollowUpAsked
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.interview import InterviewScreen, UiState
from interviewer.tui.screens.summary import SummaryScreen
from interviewer.tui.widgets.key_points import render_question_grade
from tests.session.fakes import FakeSpeaker, probe_bank
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (100, 30)
PROBE = "What holds the ship in place?"


def run(coro):
    return asyncio.run(coro)


def one_question(**kw) -> StartRequest:
    return StartRequest("practice", SessionConfig(mode="practice", count=1), **kw)


def rig_for(tmp_path, texts, *, followups=1, **kw):
    settings = Settings(session_count=1, followups=followups)
    return build(tmp_path, texts=texts, bank=probe_bank(), settings=settings,
                 start=one_question(**kw.pop("start", {})), **kw)


def plain(widget) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def answer_by_voice(pilot, rig):
    await pilot.press("space")
    await wait_for(pilot, lambda: rig.app.screen.state is UiState.LISTENING)
    await pilot.press("space")


def test_a_spoken_follow_up_is_asked_answered_and_shown_as_given_after_the_prompt(tmp_path):
    speaker = FakeSpeaker()
    rig = rig_for(tmp_path, ["apple", "the anchor holds it"], speaker=speaker)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            screen = rig.app.screen
            assert isinstance(screen, InterviewScreen) and screen.state is UiState.READY
            await answer_by_voice(pilot, rig)
            await wait_for(pilot, lambda: rig.of(FollowUpAsked) and screen.state is UiState.READY)
            assert "Follow-up:" in plain(screen.query_one("#iv-question"))
            assert PROBE in plain(screen.query_one("#iv-question"))
            assert "follow-up 1" in plain(screen.query_one("#iv-progress"))
            assert "answer the follow-up" in plain(screen.query_one("#iv-state"))
            assert speaker.spoken == ["Name the tools.", PROBE]  # spoken like a question
            await answer_by_voice(pilot, rig)
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            fb = rig.app.screen
            score = plain(fb.query_one("#fb-score"))
            assert "36/100 (18 unprompted)" in score, score
            assert "1 of 4 key points unprompted, 1 after a prompt" in score
            points = plain(fb.query_one("#fb-points"))
            assert "↪ anchor" in points and f"asked: {PROBE} — given after the prompt: +18" in points
            assert "✔ apple" in points and "✘ arrow" in points
            await pilot.press("n")
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, SummaryScreen)

    run(scenario())
    assert rig.messages(FollowUpAsked, AnswerScored) == ["FollowUpAsked", "AnswerScored"]
    (row,) = rig.rows()
    assert round(row["score"], 4) == round(1 / 5.5 + 0.5 * 2 / 5.5, 4)
    assert round(row["unprompted_score"], 4) == round(1 / 5.5, 4)
    (f,) = rig.rows("SELECT * FROM followups")
    assert (f["prompt"], f["state"], f["transcript"], f["typed"]) == (
        PROBE, "graded", "the anchor holds it", 0,
    )
    assert f["audio_file"] == f"{row['id']}-followup-1.wav"


def test_skipping_the_follow_up_with_s_costs_nothing(tmp_path):
    rig = rig_for(tmp_path, ["apple"])

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await answer_by_voice(pilot, rig)
            await wait_for(pilot, lambda: rig.of(FollowUpAsked)
                           and rig.app.screen.state is UiState.READY)
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            fb = rig.app.screen
            assert "18/100 (18 unprompted)" in plain(fb.query_one("#fb-score"))
            assert f"asked: {PROBE} — skipped" in plain(fb.query_one("#fb-points"))
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    (row,) = rig.rows()
    assert row["score"] == row["unprompted_score"]
    (f,) = rig.rows("SELECT * FROM followups")
    assert f["state"] == "skipped" and f["audio_file"] is None


def test_typed_follow_ups_a_reply_then_an_empty_reply_skips(tmp_path):
    rig = rig_for(tmp_path, [], followups=2, no_audio=True, start={"typed": True})

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            screen = rig.app.screen
            assert screen.state is UiState.TYPING
            await pilot.press(*"apple")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: len(rig.of(FollowUpAsked)) == 1
                           and screen.state is UiState.TYPING)
            assert "empty skips the follow-up" in plain(screen.query_one("#iv-state"))
            await pilot.press(*"an anvil")  # not what was asked: the anchor stays missed
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: len(rig.of(FollowUpAsked)) == 2
                           and screen.state is UiState.TYPING)
            assert "What does the smith strike on?" in plain(screen.query_one("#iv-question"))
            await pilot.press("ctrl+s")  # nothing typed: skip this one
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            points = plain(rig.app.screen.query_one("#fb-points"))
            assert f"asked: {PROBE} — not given after the prompt either" in points
            assert "asked: What does the smith strike on? — skipped" in points
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    first, second = rig.rows("SELECT * FROM followups ORDER BY position")
    assert (first["state"], first["typed"], first["transcript"]) == ("graded", 1, "an anvil")
    assert second["state"] == "skipped"
    (row,) = rig.rows()
    assert row["score"] == row["unprompted_score"]  # an anvil was not asked for


def test_no_follow_up_when_the_setting_is_zero(tmp_path):
    rig = rig_for(tmp_path, ["apple"], followups=0)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await answer_by_voice(pilot, rig)
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            assert "unprompted" not in plain(rig.app.screen.query_one("#fb-score"))
            await pilot.press("n")
            await wait_idle(pilot, rig.app)

    run(scenario())
    assert rig.of(FollowUpAsked) == [] and rig.rows("SELECT * FROM followups") == []


def test_render_question_grade_marks_points_by_how_they_were_given(tmp_path):
    from interviewer.session.followup import question_grade
    from questions.assessment import Assessment, KeyPointResult
    from tests.session.fakes import PROBED, FakeGrader

    own = FakeGrader()(PROBED, "apple")
    reply = FakeGrader()(PROBED, "anchor, and the moon is made of cheese")
    from interviewer.session.model import FollowUp

    f = FollowUp(1, 1, 1, 1, "anchor", PROBE, "graded", "t", transcript="anchor",
                 grade={"assessment": reply.to_dict(), "recovered": 0.18,
                        "charged": [["the moon is cheese", 0.1]]})
    grade = question_grade(PROBED, own, [f], 0.26, own.score)
    text = render_question_grade(grade).plain
    assert " ↪ anchor" in text and "+18" in text
    assert "the moon is cheese (in a follow-up)" in text
    assert Assessment(score=0.1, key_points=(KeyPointResult("x", 1, "missed", 0),)).percent == 10


def test_the_attempt_screen_shows_the_exchange_and_regrading_keeps_it(tmp_path):
    import random

    from interviewer.session.engine import SessionEngine
    from interviewer.session.ports import Ports
    from interviewer.tui.screens.detail import AttemptDetailScreen
    from tests.session.fakes import FakeGrader

    rig = build(tmp_path, bank=probe_bank(), start=StartRequest("review"))
    config = SessionConfig(mode="practice", bank="tools", count=1, question_ids=("tools",))
    engine = SessionEngine(rig.bank, rig.store, Ports(grader=FakeGrader()),
                           Settings(followups=2), config, clock=rig.clock,
                           rng=random.Random(1), now=rig.store.now)
    engine.start()
    engine.next_question()
    engine.submit_typed("apple")
    engine.begin_followup()
    engine.submit_typed("an anchor")
    engine.begin_followup()
    engine.skip()
    engine.finish()

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("enter")
            await wait_idle(pilot, rig.app)
            detail = rig.app.screen
            assert isinstance(detail, AttemptDetailScreen)
            await wait_for(pilot, lambda: detail.grade is not None)
            await pilot.pause()
            exchange = plain(detail.query_one("#dt-followups"))
            assert f"Follow-up 1: {PROBE}" in exchange and "typed: an anchor" in exchange
            assert "anchor: given after the prompt, +18" in exchange
            assert "Follow-up 2: What does the smith strike on?" in exchange
            assert "skipped (costs nothing)" in exchange
            assert "36/100 (18 unprompted)" in plain(detail.query_one("#dt-score"))
            # a corrected answer that names the anchor: nothing left to recover
            await pilot.press("e")
            await pilot.pause()
            rig.app.screen.query_one("TextArea").text = "apple and anchor"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: detail.grade is not None and detail.attempt.transcript
                           == "apple and anchor" and "+18" not in plain(detail.query_one("#dt-followups")))
            assert "anchor: in the answer itself" in plain(detail.query_one("#dt-followups"))

    run(scenario())
    (row,) = rig.rows()
    assert row["score"] == row["unprompted_score"]
