"""Loudness, speech and pauses, measured from the samples alone (pure numpy).

Both the batch transcriber and the live one use these: to skip silence
without calling the model, to cut a long answer at its pauses, and to notice
a transcript far too short for the speech it came from.

One rule decides which 30 ms frames carry speech (:func:`voiced_frames`):
a frame is voiced when its RMS reaches a tenth of the clip's speech level
(the 95th percentile of frame RMS) and never below ``SPEECH_FLOOR_RMS``.
Everything else here (pauses, voiced seconds, cut points) derives from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audio.clip import SAMPLE_RATE

FRAME_S = 0.03
"""Frame length of the energy measurements, seconds."""
SPEECH_FLOOR_RMS = 0.004
"""Quieter than this is never speech (about -48 dBFS): a frame below it is a
pause, and a clip whose speech level is below it is silence."""
SPEECH_RELATIVE = 0.1
"""A frame under this fraction of the clip's speech level is a pause too."""
MIN_WORDS_PER_VOICED_S = 2.0
"""Fluent speech gives about 3 words per voiced second; a transcript with
fewer than this many per voiced second left part of the audio out."""
QUIET_WINDOW_FRAMES = 10
"""The quietest point is looked for over 10 frames (0.3 s), not one frame."""

PauseFinder = Callable[[np.ndarray, int, float], list[tuple[float, float]]]
"""``(samples, sample_rate, min_pause_s) -> [(start_s, end_s), ...]``."""


def frame_rms(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_s: float = FRAME_S
) -> np.ndarray:
    """RMS of consecutive non-overlapping frames (the last partial frame is dropped)."""
    n = max(1, int(round(frame_s * sample_rate)))
    usable = len(samples) - len(samples) % n
    if usable <= 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[:usable].astype(np.float32, copy=False).reshape(-1, n)
    rms: np.ndarray = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return rms.astype(np.float32)


def speech_level(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """How loud the loud parts are: the 95th percentile of frame RMS."""
    levels = frame_rms(samples, sample_rate)
    return float(np.percentile(levels, 95)) if levels.size else 0.0


def is_silent(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bool:
    """True when even the loud parts stay under the speech floor."""
    return speech_level(samples, sample_rate) < SPEECH_FLOOR_RMS


def voiced_frames(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """Which frames carry speech (the module's one threshold rule), and the
    frame length in seconds."""
    levels = frame_rms(samples, sample_rate)
    if levels.size == 0:
        return np.zeros(0, dtype=bool), FRAME_S
    threshold = max(SPEECH_FLOOR_RMS, SPEECH_RELATIVE * float(np.percentile(levels, 95)))
    return levels >= threshold, len(samples) / sample_rate / levels.size


def voiced_seconds(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Seconds of voiced frames."""
    voiced, frame_s = voiced_frames(samples, sample_rate)
    return float(np.count_nonzero(voiced)) * frame_s


def too_few_words(
    words: int, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, *, min_voiced_s: float
) -> bool:
    """True when ``words`` words are far too few for the voiced audio of
    ``samples``; audio with less than ``min_voiced_s`` voiced is too short to
    judge."""
    voiced = voiced_seconds(samples, sample_rate)
    return voiced >= min_voiced_s and words < MIN_WORDS_PER_VOICED_S * voiced


def find_pauses(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, min_pause_s: float = 0.4
) -> list[tuple[float, float]]:
    """Runs of unvoiced frames lasting at least ``min_pause_s``, as (start,
    end) seconds."""
    voiced, frame_s = voiced_frames(samples, sample_rate)
    if voiced.size == 0:
        return []
    quiet = np.concatenate(([False], ~voiced, [False]))
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    pauses = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if (end - start) * frame_s >= min_pause_s:
            pauses.append((float(start * frame_s), float(end * frame_s)))
    return pauses


def quietest_point(samples: np.ndarray, sample_rate: int, lo_s: float, hi_s: float) -> int:
    """The sample index at the centre of the quietest 0.3 s between lo_s and hi_s."""
    window = samples[: int(hi_s * sample_rate)]
    levels = frame_rms(window, sample_rate)
    if levels.size == 0:
        return len(window)
    frame_s = len(window) / sample_rate / levels.size
    kernel = np.ones(QUIET_WINDOW_FRAMES) / QUIET_WINDOW_FRAMES
    smooth = np.convolve(levels, kernel, mode="same")
    first = min(int(lo_s / frame_s), levels.size - 1)
    best = first + int(np.argmin(smooth[first:]))
    return max(1, int(best * frame_s * sample_rate))


@dataclass(frozen=True)
class StretchOptions:
    """How an answer is cut into stretches for the model.

    Whisper pads every call to a 30 s window, so each call costs a whole
    encoder pass: stretches much shorter than about 8 s multiply the work,
    and stretches near 30 s invite the model to skip speech inside them."""

    min_chunk_s: float = 8.0
    """A stretch is at least this long (except the last)."""
    max_chunk_s: float = 24.0
    """... and at most this long."""
    min_pause_s: float = 0.35
    """The shortest pause worth cutting at."""
    pause_finder: PauseFinder = find_pauses
    """Any function with :func:`find_pauses`' signature can replace it."""

    def __post_init__(self) -> None:
        if not 0 < self.min_chunk_s < self.max_chunk_s <= 30.0:
            raise ValueError("need 0 < min_chunk_s < max_chunk_s <= 30 (whisper's window)")


DEFAULT_STRETCHES = StretchOptions()


def next_cut(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, options: StretchOptions = DEFAULT_STRETCHES
) -> int | None:
    """Where the first stretch of ``samples`` should end (a sample index): in the
    middle of the first pause that lies past ``min_chunk_s``; failing that, once
    ``max_chunk_s`` has gathered, at the quietest moment between the two; else
    None (wait for more audio)."""
    lo, hi = options.min_chunk_s, options.max_chunk_s
    if len(samples) < lo * sample_rate:
        return None
    for start, end in options.pause_finder(samples, sample_rate, options.min_pause_s):
        middle = (start + end) / 2
        if lo <= middle <= hi:
            return int(middle * sample_rate)
        if middle > hi:
            break
    if len(samples) >= hi * sample_rate:
        return quietest_point(samples, sample_rate, lo, hi)
    return None


def plan_stretches(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, options: StretchOptions = DEFAULT_STRETCHES
) -> list[tuple[int, int]]:
    """Cut a whole clip into stretches no longer than ``max_chunk_s`` (the last
    may be shorter than ``min_chunk_s``), as (start, end) sample indices."""
    spans: list[tuple[int, int]] = []
    start = 0
    while len(samples) - start > options.max_chunk_s * sample_rate:
        cut = next_cut(samples[start:], sample_rate, options)
        if cut is None:  # cannot happen past max_chunk_s; guards a custom finder
            cut = int(options.max_chunk_s * sample_rate)
        spans.append((start, start + cut))
        start += cut
    if start < len(samples):
        spans.append((start, len(samples)))
    return spans


MIN_SPLIT_SIDE_S = 2.0
"""Neither half of a split may be shorter than this."""
SPLIT_PAUSE_S = 0.15
"""A split may fall in a shorter pause than a cut between stretches."""


def split_point(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int | None:
    """A pause near the middle to split a badly decoded stretch at (a sample
    index), keeping ``MIN_SPLIT_SIDE_S`` on each side; None when too short."""
    total_s = len(samples) / sample_rate
    if total_s < 2 * MIN_SPLIT_SIDE_S:
        return None
    lo, hi = MIN_SPLIT_SIDE_S, total_s - MIN_SPLIT_SIDE_S
    middles = [(a + b) / 2 for a, b in find_pauses(samples, sample_rate, SPLIT_PAUSE_S)]
    inside = [m for m in middles if lo <= m <= hi]
    if inside:
        return int(min(inside, key=lambda m: abs(m - total_s / 2)) * sample_rate)
    return quietest_point(samples, sample_rate, total_s / 3, 2 * total_s / 3)
