"""The answer's clock: when the current answer started and how long it may
last (rapid rounds have a hard limit per answer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Waits(Protocol):
    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recording ended by itself or ``timeout``; True when it ended."""


class AnswerClock:
    """Times one answer at a time on a monotonic ``clock``."""

    def __init__(self, clock: Callable[[], float], limit_s: float | None) -> None:
        self.clock = clock
        self.limit_s = limit_s
        """The hard limit per answer, or None."""
        self.started: float | None = None

    def restart(self) -> None:
        """The answer's time starts now (asked, after the question, recording)."""
        self.started = self.clock()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else max(0.0, self.clock() - self.started)

    def remaining(self) -> float | None:
        """Seconds left under the limit; None without a limit or a start."""
        if self.limit_s is None or self.started is None:
            return None
        return max(0.0, self.limit_s - self.elapsed())

    def ended(self, recorder: Waits, timeout: float | None) -> bool:
        """True when the answer is over by itself: ``recorder`` stopped
        (silence, its limit, device lost) or the time is up. Never sleeps
        longer than ``timeout`` (the recorder's wait)."""
        left = self.remaining()
        if left is not None and left <= 0:
            return True
        wait = timeout if left is None else (left if timeout is None else min(timeout, left))
        if recorder.wait(wait):
            return True
        left = self.remaining()
        return left is not None and left <= 0

    def answer_time(self, elapsed: float | None = None) -> tuple[bool, float]:
        """(timed out, the answer's time clipped to the limit), for the row."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        limit = self.limit_s
        timed_out = limit is not None and elapsed >= limit
        clipped = min(elapsed, limit) if timed_out and limit is not None else elapsed
        return timed_out, round(clipped, 3)


__all__ = ["AnswerClock"]
