"""The recogniser's beam width: one rule, shared by the transcriber and the
settings file (kept free of imports so reading settings stays instant)."""

from __future__ import annotations

MAX_BEAM_SIZE = 16


def usable_beam(value: object) -> bool:
    """True for an int from 1 (greedy) to ``MAX_BEAM_SIZE``."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BEAM_SIZE


def checked_beam(beam_size: object) -> int:
    """``beam_size`` as a usable beam width, or a clear ValueError."""
    if not usable_beam(beam_size):
        raise ValueError(
            f"beam size must be a whole number from 1 (greedy) to {MAX_BEAM_SIZE}, not {beam_size!r}"
        )
    return beam_size  # type: ignore[return-value]
