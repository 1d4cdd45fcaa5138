"""Builds the TUI over the REAL session engine and a REAL SQLite store in a
temporary folder, with the fake audio ports of ``tests.session.fakes``.

Time is fixed: the engine's and the countdown's clock is a ``FakeClock`` and
the store's wall clock is a fixed date, so snapshots never show "now".

``rig.run_test()`` runs the app headless and records, through Textual's
``message_hook``, every message of ``interviewer.tui.messages`` the screens
received, in order; ``rig.seen`` holds them, ``rig.messages()`` their names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from textual.message import Message

from interviewer.config import Settings
from interviewer.session.engine import SessionEngine
from interviewer.session.model import SessionConfig
from interviewer.session.ports import Ports
from interviewer.session.store import Store
from interviewer.tui import messages as app_messages
from interviewer.tui.app import InterviewerApp, make_app
from interviewer.tui.deps import StartRequest
from tests.session.fakes import (
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    sample_bank,
)

TODAY = "2026-01-15"


class FixedNow:
    """A wall clock that starts at a fixed instant and ticks one second per call."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


PLUMBING = (
    app_messages.LevelChanged,
    app_messages.LoadProgressed,
    app_messages.ModelsLoaded,
    app_messages.AttemptsLoaded,
)
"""Messages about the screen's own upkeep, not about the session: not recorded."""


@dataclass
class Rig:
    app: InterviewerApp
    store: Store
    ports: Ports
    clock: FakeClock
    bank: Any
    seen: list[Message] = field(default_factory=list)
    """The app's messages the screens received, in order (each once, though
    a message bubbles through several message pumps)."""

    def rows(self, sql: str = "SELECT * FROM attempts ORDER BY id") -> list[dict]:
        import sqlite3

        with sqlite3.connect(self.store.path) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql).fetchall()]

    def run_test(self, **kwargs: Any) -> Any:
        """``app.run_test(**kwargs)``, recording the app's messages in ``seen``."""
        ids: set[int] = set()

        def hook(message: Message) -> None:
            if type(message).__module__ != app_messages.__name__ or isinstance(message, PLUMBING):
                return
            if id(message) not in ids:  # the same object bubbling to the next pump
                ids.add(id(message))
                self.seen.append(message)

        return self.app.run_test(message_hook=hook, **kwargs)

    def of(self, kind: type[Message]) -> list[Any]:
        """The recorded messages of one kind, in order."""
        return [m for m in self.seen if isinstance(m, kind)]

    def messages(self, *kinds: type[Message]) -> list[str]:
        """Names of the recorded messages, in order (only ``kinds`` when given)."""
        return [type(m).__name__ for m in self.seen if not kinds or isinstance(m, kinds)]


def build(
    tmp_path: Path,
    *,
    texts: str | list[str] = "an apple on an anchor",
    recorder: FakeRecorder | None = None,
    speaker: FakeSpeaker | None = None,
    no_audio: bool = False,
    start: StartRequest | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    bank: Any = None,
    grader: Any = None,
    transcriber: Any = None,
) -> Rig:
    """The app over a real engine and store; fake audio ports unless
    ``speaker``, ``recorder`` or ``transcriber`` are given (real-audio tests
    pass the real ones)."""
    bank = bank or sample_bank()
    grader = grader or FakeGrader()
    clock = FakeClock()
    now = FixedNow()
    store = store or Store(tmp_path / "attempts.sqlite3", now=now)
    settings = settings or Settings(session_count=2, rapid_count=3, rapid_answer_s=45.0)
    if no_audio:
        ports = Ports(grader=grader)
    else:
        ports = Ports(
            speaker=speaker or FakeSpeaker(),
            recorder=recorder or FakeRecorder(),
            transcriber=transcriber or FakeTranscriber(texts),
            grader=grader,
        )

    def factory(config: SessionConfig, loaded: Any) -> SessionEngine:
        config = replace(config, bank=bank.name, seed=7 if config.seed is None else config.seed)
        return SessionEngine(
            bank, store, loaded or Ports(grader=grader), settings, config,
            clock=clock, rng=random.Random(config.seed), now=now,
        )

    app = make_app(settings, factory, ports, store, bank, start=start, clock=clock,
                   today=lambda: TODAY)
    return Rig(app, store, ports, clock, bank)


def seed_attempts(rig: Rig, answers: list[tuple[str, str]], grader: Any = None,
                  spoken: bool = False) -> None:
    """Store graded attempts through a real engine session (``question_ids``
    in the given order); ``spoken`` records them with the fake recorder."""
    config = SessionConfig(mode="practice", bank=rig.bank.name, count=len(answers),
                           question_ids=tuple(q for q, _ in answers))
    ports = Ports(grader=grader or FakeGrader())
    if spoken:
        ports = Ports(recorder=FakeRecorder(), transcriber=FakeTranscriber([a for _, a in answers]),
                      grader=grader or FakeGrader())
    engine = SessionEngine(rig.bank, rig.store, ports, Settings(), config, clock=rig.clock,
                           rng=random.Random(1), now=rig.store.now)
    engine.start()
    for _, text in answers:
        engine.next_question()
        if spoken:
            engine.start_answer()
            rig.clock.advance(5.0)
            engine.stop_answer()
            engine.transcribe()
            engine.grade()
        else:
            rig.clock.advance(5.0)
            engine.submit_typed(text)
    engine.next_question()
    engine.finish()


async def wait_idle(pilot: Any, app: InterviewerApp, rounds: int = 3) -> None:
    """Let workers finish and their messages be handled."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def wait_for(pilot: Any, predicate: Any, timeout: float = 10.0) -> None:
    """Pause until ``predicate()`` is true (fails the test after ``timeout`` s)."""
    import time

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.02)


README_QUESTION = "reward-hacking-rlhf"
README_ANSWER = (
    "Reward hacking is when the policy exploits flaws in the learned reward model, "
    "which is only a proxy for what people prefer. The proxy reward keeps going up "
    "while real quality drops, so answers get long and sycophantic. A KL penalty "
    "keeps the policy close to the reference model."
)


README_FOLLOWUP = (
    "You can stop training early, use an ensemble of reward models, and keep "
    "retraining the reward model on fresh human comparisons."
)
"""The typed reply to the follow-up the README's answer draws (it left out
the other mitigations)."""


def _typed(text: str) -> tuple[str, ...]:
    return tuple("space" if c == " " else c for c in text) + ("ctrl+s",)


def save_readme_screenshot(path: str | Path, screen: str = "home") -> Path:
    """Write an SVG of the home screen, the feedback screen, or the
    feedback screen after a follow-up ("followup") for the README: the
    shipped bank, the real matcher, typed answers, fixed clocks and a
    throw-away data folder (nobody's attempts)."""
    import tempfile

    import questions

    bank = questions.default_bank()
    tmp = Path(tempfile.mkdtemp(prefix="trainer-shot-"))
    steps: tuple[tuple[str, ...], ...] = ()
    if screen in ("feedback", "followup"):
        config = SessionConfig(mode="practice", count=1, question_ids=(README_QUESTION,))
        settings = Settings(session_count=1, followups=1 if screen == "followup" else 0)
        rig = build(tmp, no_audio=True, bank=bank, grader=questions.grade_question,
                    settings=settings, start=StartRequest("practice", config, typed=True))
        steps = (_typed(README_ANSWER),)
        if screen == "followup":
            steps += (_typed(README_FOLLOWUP),)
    else:
        rig = build(tmp, bank=bank, grader=questions.grade_question)
    # the exchange sits below the key points: a taller terminal shows it
    size = (80, 34) if screen == "followup" else (80, 24)
    return save_svg_screenshot(rig, path, *steps, size=size)


async def _capture(
    rig: Rig, path: Path, steps: tuple[tuple[str, ...], ...], size: tuple[int, int]
) -> None:
    app = rig.app
    async with rig.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for keys in steps:  # each step once the screen has settled from the last
            await pilot.press(*keys)
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause(0.1)
        app.save_screenshot(filename=path.name, path=str(path.parent))


def save_svg_screenshot(
    rig: Rig, path: str | Path, *steps: tuple[str, ...], size: tuple[int, int] = (80, 24)
) -> Path:
    """Run the rig's app headless (80x24 unless ``size``), press each step's
    keys in turn and write an SVG of the screen."""
    import asyncio

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_capture(rig, target, steps, size))
    return target
