"""Help, settings, retry, recovery of interrupted answers, and the home form."""

from __future__ import annotations

import asyncio
import json

from interviewer.config import load_settings
from interviewer.session.model import SessionConfig
from interviewer.tui.app import InterviewerApp
from interviewer.tui.deps import StartRequest
from interviewer.tui.screens.feedback import FeedbackScreen
from interviewer.tui.screens.help import HelpScreen, help_text
from interviewer.tui.screens.home import HomeScreen
from interviewer.tui.screens.interview import InterviewScreen, UiState
from interviewer.tui.screens.settings import SettingsScreen
from interviewer.tui.screens.summary import SummaryScreen
from tests.tui.harness import build, wait_for, wait_idle

SIZE = (80, 24)


def test_help_lists_every_key_of_every_screen(tmp_path):
    rig = build(tmp_path)
    text = help_text("HomeScreen", InterviewerApp.BINDINGS).plain
    for section in ("Home", "Interview", "Feedback", "Round summary", "Review", "Attempt",
                    "Compare attempts", "Settings", "Everywhere"):
        assert f"{section}\n" in text
    for key, what in (("space", "Answer/stop"), ("ctrl+s", "Submit typed"), ("ctrl+q", "Quit"),
                      ("e", "Edit transcript"), ("g", "Re-grade all"), ("p", "Play/stop audio")):
        assert any(key in line and what in line for line in text.splitlines()), (key, what)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(rig.app.screen, HelpScreen)
            assert rig.app.screen.global_bindings == tuple(InterviewerApp.BINDINGS)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(rig.app.screen, HomeScreen)
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(rig.app.screen, HelpScreen)

    asyncio.run(scenario())


def test_settings_are_saved(tmp_path):
    rig = build(tmp_path)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("o")
            await pilot.pause()
            screen = rig.app.screen
            assert isinstance(screen, SettingsScreen)
            screen.query_one("#rate").value = "150"
            screen.query_one("#silence_timeout_s").value = "2.5"
            screen.query_one("#max_answer_s").value = "not a number"
            screen.query_one("#beam_size").value = 1
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(rig.app.screen, HomeScreen)

    asyncio.run(scenario())
    saved = load_settings()
    assert saved.rate == 150 and saved.silence_timeout_s == 2.5
    assert saved.beam_size == 1
    assert saved.max_answer_s == rig.app.deps.settings.max_answer_s  # invalid input kept the old value
    assert rig.app.settings == saved


def test_retry_answers_the_same_question_again(tmp_path):
    start = StartRequest("practice", SessionConfig(mode="practice", count=1), typed=True)
    rig = build(tmp_path, no_audio=True, start=start)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press(*"first try", "ctrl+s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            await pilot.press("a")
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, InterviewScreen) and rig.app.screen.single
            await pilot.press(*"second try", "ctrl+s")
            await wait_for(pilot, lambda: isinstance(rig.app.screen, FeedbackScreen))
            await pilot.press("n")
            await wait_idle(pilot, rig.app)
            await wait_for(pilot, lambda: isinstance(rig.app.screen, SummaryScreen))

    asyncio.run(scenario())
    rows = rig.rows()
    assert [r["transcript"] for r in rows] == ["first try", "second try"]
    assert rows[0]["question_id"] == rows[1]["question_id"]


def test_interrupted_answer_is_offered_and_transcribed(tmp_path):
    rig = build(tmp_path, texts="an apple with an arrow")
    # a crash mid-answer: the attempt row and its audio exist, nothing else
    from interviewer.session.engine import SessionEngine

    engine = SessionEngine(rig.bank, rig.store, rig.ports, config=SessionConfig(
        mode="practice", bank="sample", count=1, question_ids=("q1",)), clock=rig.clock)
    engine.start()
    engine.next_question()
    engine.start_answer()
    engine.stop_answer()  # state "recorded"; the process dies before transcribing

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            side = str(rig.app.screen.query_one("#recovered").render())
            assert "1 interrupted answer" in side
            await pilot.press("x")
            await wait_idle(pilot, rig.app, rounds=5)
            side = str(rig.app.screen.query_one("#recovered").render())
            assert "interrupted" not in side

    asyncio.run(scenario())
    row = rig.rows()[0]
    assert row["state"] == "graded" and row["transcript"] == "an apple with an arrow"
    assert json.loads(row["assessment"])["score"] > 0


def test_home_form_starts_a_rapid_round_with_its_values(tmp_path):
    rig = build(tmp_path)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            home = rig.app.screen
            home.query_one("#mode-rapid").value = True
            await pilot.pause()
            home.query_one("#count").value = "2"
            home.query_one("#seconds").value = "20"
            topics = home.query_one("#topics")
            topics.select("beta")
            await pilot.pause()
            home.action_start()
            await wait_for(pilot, lambda: isinstance(rig.app.screen, InterviewScreen))
            screen = rig.app.screen
            assert screen.config.mode == "rapid"
            assert screen.config.time_limit_s == 20.0
            assert screen.config.topics == ("beta",) and screen.config.count == 2
            await wait_for(pilot, lambda: screen.state is UiState.LISTENING)
            await pilot.press("escape", "y")
            await wait_idle(pilot, rig.app)

    asyncio.run(scenario())
    session = rig.rows("SELECT * FROM sessions")[0]
    assert session["mode"] == "rapid"
    assert set(json.loads(session["config"])["questions"]) <= {"q3", "q4"}


def test_due_mode_with_nothing_due_says_so_and_stays_home(tmp_path):
    rig = build(tmp_path)

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            await pilot.press("d")
            await wait_idle(pilot, rig.app)
            assert isinstance(rig.app.screen, HomeScreen)
            notes = [n.message for n in rig.app._notifications]
            assert any("due" in n and "\n" not in n for n in notes), notes

    asyncio.run(scenario())
    assert rig.messages() == ["SessionFailed"]
    assert rig.rows("SELECT * FROM sessions") == []


def test_a_settings_file_with_an_unusable_beam_width_keeps_the_rest(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"rate": 140, "beam_size": 0}', encoding="utf-8")
    settings = load_settings(path)
    assert settings.rate == 140 and settings.beam_size == 5
    path.write_text('{"beam_size": "fast"}', encoding="utf-8")
    assert load_settings(path).beam_size == 5
    path.write_text('{"beam_size": 2}', encoding="utf-8")
    assert load_settings(path).beam_size == 2


def test_the_time_field_follows_the_mode_unless_the_person_changed_it(tmp_path):
    rig = build(tmp_path)  # rapid_answer_s 45, max_answer_s 180 (the default)

    async def start(pilot, key):
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(rig.app.screen, InterviewScreen))
        config = rig.app.screen.config
        rig.app.screen.dismiss(None)
        await wait_for(pilot, lambda: isinstance(rig.app.screen, HomeScreen))
        return config

    async def scenario():
        async with rig.run_test(size=SIZE) as pilot:
            await wait_idle(pilot, rig.app)
            home = rig.app.screen
            rapid = await start(pilot, "f")  # straight from the home screen
            assert (rapid.time_limit_s, rapid.count) == (45.0, 3)
            practice = await start(pilot, "p")
            assert (practice.time_limit_s, practice.count) == (180.0, 2)
            home.query_one("#mode-rapid").value = True
            await pilot.pause()
            assert home.query_one("#seconds").value == "45"
            assert home.query_one("#count").value == "3"
            home.query_one("#mode-practice").value = True
            await pilot.pause()
            assert home.query_one("#seconds").value == "180"
            home.query_one("#seconds").value = "60"  # the person's own value is kept
            home.query_one("#mode-rapid").value = True
            await pilot.pause()
            assert home.query_one("#seconds").value == "60"
            assert home.query_one("#count").value == "3"
            assert (await start(pilot, "f")).time_limit_s == 60.0
            assert (await start(pilot, "p")).time_limit_s == 60.0

    asyncio.run(scenario())
