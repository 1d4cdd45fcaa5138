"""A one-line microphone level meter."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

FLOOR_DB = -60.0
"""Levels at or below this many dBFS show an empty bar."""


def level_to_fraction(level: float) -> float:
    """Map a level to a bar fraction on a dB scale. Negative values are dBFS
    (what the recorder reports); values in (0, 1] are linear RMS."""
    if level < 0.0:
        db = level
    elif level == 0.0:
        return 0.0
    else:
        db = 20.0 * math.log10(min(level, 1.0))
    return max(0.0, min(1.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(Widget):
    """Shows the latest microphone level as a bar (set ``level`` on the UI thread)."""

    DEFAULT_CSS = """
    LevelMeter { height: 1; width: 1fr; }
    """

    level: reactive[float] = reactive(0.0)
    """Level of the newest audio block: dBFS (negative) or linear RMS (0..1)."""

    def render(self) -> Text:
        width = max(self.size.width - 6, 4)
        filled = round(level_to_fraction(self.level) * width)
        bar = Text("mic ", style="bold")
        colour = "green" if filled < width * 0.8 else "red"
        bar.append("█" * filled, style=colour)
        bar.append("░" * (width - filled), style="dim")
        return bar
