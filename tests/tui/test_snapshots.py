"""SVG snapshots of the main screens at 80x24, and of the home and feedback
screens at 120x40 too (fixed seed, fixed clocks, no "now" anywhere). Update with ``pytest tests/tui/test_snapshots.py --snapshot-update``
after an intended change, and look at the pictures before committing them."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_textual_snapshot

from interviewer.session.model import SessionConfig
from interviewer.tui.deps import StartRequest
from tests.tui.harness import build, seed_attempts, wait_idle

SIZE = (80, 24)
WIDE = (120, 40)


class _SnapshotsHere(pytest_textual_snapshot.SVGImageExtension):
    """Keep the pictures in tests/tui/snapshots/."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(Path(test_location.filepath).parent / "snapshots")


@pytest.fixture(autouse=True)
def _snapshot_dir(monkeypatch):
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsHere)


async def _settle(pilot) -> None:
    await wait_idle(pilot, pilot.app)


def _typed(count: int = 2) -> StartRequest:
    return StartRequest("practice", SessionConfig(mode="practice", count=count), typed=True)


def test_home(snap_compare, tmp_path):
    rig = build(tmp_path)
    assert snap_compare(rig.app, terminal_size=SIZE, run_before=_settle)


@pytest.mark.parametrize("size", [SIZE, WIDE], ids=["80x24", "120x40"])
def test_home_while_loading(snap_compare, tmp_path, size):
    """The side panel wraps the longest loading step instead of cutting it."""
    from interviewer.tui.messages import LoadProgressed

    rig = build(tmp_path)

    async def before(pilot):
        await _settle(pilot)
        pilot.app.screen.post_message(LoadProgressed("loading the grader's language model", 0.6))
        await pilot.pause()

    assert snap_compare(rig.app, terminal_size=size, run_before=before)


def test_interview_typing(snap_compare, tmp_path):
    rig = build(tmp_path, no_audio=True, start=_typed())

    async def before(pilot):
        await _settle(pilot)
        await pilot.press(*"a banana")

    assert snap_compare(rig.app, terminal_size=SIZE, run_before=before)


def test_feedback(snap_compare, tmp_path):
    rig = build(tmp_path, no_audio=True, start=_typed())

    async def before(pilot):
        await _settle(pilot)
        question = pilot.app.screen.question
        words = [k.text for k in question.key_points[:2]]
        await pilot.press(*f"it uses {words[0]} and {words[1]}")
        await pilot.press("ctrl+s")
        await _settle(pilot)

    assert snap_compare(rig.app, terminal_size=SIZE, run_before=before)


def test_review(snap_compare, tmp_path):
    rig = build(tmp_path, start=StartRequest("review"))
    seed_attempts(rig, [("q1", "an apple"), ("q2", "a banana bridge"), ("q1", "apple anchor")])
    assert snap_compare(rig.app, terminal_size=SIZE, run_before=_settle)


def test_rapid_listening(snap_compare, tmp_path):
    start = StartRequest("rapid", SessionConfig(mode="rapid", count=3, time_limit_s=45.0))
    rig = build(tmp_path, start=start)

    async def before(pilot):
        from tests.tui.harness import wait_for

        await wait_for(pilot, lambda: getattr(pilot.app.screen, "state", "") == "listening")
        await pilot.pause()

    assert snap_compare(rig.app, terminal_size=SIZE, run_before=before)


@pytest.mark.parametrize("size", [SIZE, WIDE], ids=["80x24", "120x40"])
def test_feedback_spoken(snap_compare, tmp_path, size):
    """Each key point once (a missed one is not listed again), and the
    delivery figures of a spoken answer."""
    start = StartRequest("practice", SessionConfig(mode="practice", count=2))
    rig = build(tmp_path, start=start, texts="it uses an apple and an anchor, you know, like a map")

    async def before(pilot):
        from tests.tui.harness import wait_for

        await _settle(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "state", "") == "listening")
        await pilot.press("space")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "FeedbackScreen")
        await _settle(pilot)

    assert snap_compare(rig.app, terminal_size=size, run_before=before)


def _probed(followups: int = 1):
    from interviewer.config import Settings
    from tests.session.fakes import probe_bank

    settings = Settings(session_count=1, followups=followups)
    start = StartRequest("practice", SessionConfig(mode="practice", count=1))
    return dict(bank=probe_bank(), settings=settings, start=start)


def test_interview_followup(snap_compare, tmp_path):
    """The follow-up, asked: the question dimmed above its probe."""
    rig = build(tmp_path, texts="an apple", **_probed())

    async def before(pilot):
        from tests.tui.harness import wait_for

        await _settle(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "state", "") == "listening")
        await pilot.press("space")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "followup_position", 0) == 1
                       and pilot.app.screen.state == "ready")
        await _settle(pilot)

    assert snap_compare(rig.app, terminal_size=SIZE, run_before=before)


def test_feedback_followup(snap_compare, tmp_path):
    """Points given unprompted, after the prompt (with the probe) and missed."""
    rig = build(tmp_path, texts=["an apple", "the anchor, I think"], **_probed())

    async def before(pilot):
        from tests.tui.harness import wait_for

        await _settle(pilot)
        for _ in range(2):
            await pilot.press("space")
            await wait_for(pilot, lambda: getattr(pilot.app.screen, "state", "") == "listening")
            await pilot.press("space")
            await wait_for(pilot, lambda: getattr(pilot.app.screen, "state", "") == "ready"
                           or type(pilot.app.screen).__name__ == "FeedbackScreen")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "FeedbackScreen")
        await _settle(pilot)

    assert snap_compare(rig.app, terminal_size=SIZE, run_before=before)
