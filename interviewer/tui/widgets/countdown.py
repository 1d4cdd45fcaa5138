"""Elapsed or remaining time of an answer, ticking on the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Countdown(Widget):
    """Counts down from ``limit_s`` (or up when there is no limit).

    The clock is injected so tests and snapshots are deterministic; the widget
    posts ``Countdown.Expired`` once when the time is up."""

    DEFAULT_CSS = """
    Countdown { height: 1; width: auto; min-width: 12; }
    """

    @dataclass
    class Expired(Message):
        """The limit was reached."""

    seconds: reactive[float] = reactive(0.0)
    """Seconds shown: remaining with a limit, elapsed without."""
    running: reactive[bool] = reactive(False)

    def __init__(self, clock: Callable[[], float], **kwargs) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._started = 0.0
        self._limit: float | None = None
        self._fired = False

    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)

    def start(self, limit_s: float | None) -> None:
        self._started = self._clock()
        self._limit = limit_s
        self._fired = False
        self.running = True
        self._tick()

    def stop(self) -> None:
        self.running = False

    def _tick(self) -> None:
        if not self.running:
            return
        elapsed = self._clock() - self._started
        if self._limit is None:
            self.seconds = elapsed
            return
        self.seconds = max(0.0, self._limit - elapsed)
        if self.seconds <= 0 and not self._fired:
            self._fired = True
            self.running = False
            self.post_message(self.Expired())

    def render(self) -> str:
        if self._limit is None:
            return f"elapsed {format_seconds(self.seconds)}"
        return f"left {format_seconds(self.seconds)}"
