"""Voice activity: which 30 ms frames of a 16 kHz signal hold speech.

Two tests must agree before a frame counts as speech:

* webrtcvad (from the ``webrtcvad-wheels`` package) on 16-bit frames, with a
  configurable aggressiveness 0..3;
* an energy gate: the frame must be louder than an absolute floor and clearly
  louder (``margin_db``) than a running estimate of the background level. The
  estimate follows the quietest recent frames at once and rises slowly, so a
  steady hum or hiss soon becomes "background", not speech.

Frames are then smoothed into segments: speech starts after
``start_frames`` voiced frames among the last ``start_window`` and a segment
ends after ``hangover_ms`` without voice.

``VoiceActivity`` is the streaming form (feed blocks as they arrive);
``speech_segments`` and ``pauses`` work on a whole clip.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from audio.clip import SAMPLE_RATE

FRAME_MS = 30
"""webrtcvad accepts 10, 20 or 30 ms frames."""
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""480 samples at 16 kHz."""
FRAME_S = FRAME_MS / 1000.0
SILENCE_DBFS = -120.0
"""The level reported for digital silence."""


@dataclass(frozen=True)
class VadSettings:
    """Tuning of voice activity detection."""

    aggressiveness: int = 2
    """webrtcvad mode: 0 accepts most as speech, 3 is the strictest."""
    min_dbfs: float = -55.0
    """Frames quieter than this are never speech."""
    margin_db: float = 8.0
    """How far above the background level a frame must be to count."""
    rise_db_per_frame: float = 0.3
    """How fast the background estimate climbs toward a louder steady level."""
    start_window: int = 5
    start_frames: int = 3
    """Speech begins after this many voiced frames among the last ``start_window``."""
    hangover_ms: int = 300
    """A segment ends after this much unvoiced audio."""


def dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (float samples in [-1, 1])."""
    if len(samples) == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 1e-6:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms))


def _webrtc(aggressiveness: int) -> Any:
    """A ``webrtcvad.Vad`` (the library has no type information)."""
    import webrtcvad

    return webrtcvad.Vad(int(aggressiveness))


class VoiceActivity:
    """Streaming voice activity over 16 kHz mono float32 blocks of any size.

    Times are seconds from the first sample fed. Not thread-safe: feed it from
    one thread (the recorder's writer thread does).
    """

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._vad = _webrtc(self.settings.aggressiveness)
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames = 0
        self._noise_db: float | None = None
        self._recent: deque[bool] = deque(maxlen=self.settings.start_window)
        self._hang = max(1, round(self.settings.hangover_ms / FRAME_MS))
        self._segments: list[tuple[float, float]] = []
        self._open_start: float | None = None
        self._last_voiced_end: float | None = None
        self._in_segment = False
        self._unvoiced_run = 0

    # -- feeding ---------------------------------------------------------
    def feed(self, block: np.ndarray) -> None:
        """Add samples (float32 in [-1, 1], 16 kHz mono)."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if len(self._pending):
            block = np.concatenate([self._pending, block])
        n = len(block) // FRAME_SAMPLES
        for i in range(n):
            self._frame(block[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
        self._pending = block[n * FRAME_SAMPLES :].copy()

    def is_voiced(self, frame: np.ndarray) -> bool:
        """The per-frame decision (updates the background estimate)."""
        level = dbfs(frame)
        s = self.settings
        if self._noise_db is None:
            self._noise_db = max(level, s.min_dbfs - s.margin_db)
        loud = level >= s.min_dbfs and level >= self._noise_db + s.margin_db
        if level < self._noise_db:
            self._noise_db = level
        else:
            self._noise_db = min(level, self._noise_db + s.rise_db_per_frame)
        if not loud:
            return False
        pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        return bool(self._vad.is_speech(pcm, SAMPLE_RATE))

    def _frame(self, frame: np.ndarray) -> None:
        voiced = self.is_voiced(frame)
        self._frames += 1
        end = self._frames * FRAME_S
        self._recent.append(voiced)
        if voiced:
            self._unvoiced_run = 0
        else:
            self._unvoiced_run += 1
        if not self._in_segment:
            if voiced and sum(self._recent) >= self.settings.start_frames:
                # the segment starts at the first voiced frame of the window
                first = len(self._recent) - list(self._recent).index(True)
                self._open_start = end - first * FRAME_S
                self._in_segment = True
                self._last_voiced_end = end
        else:
            if voiced:
                self._last_voiced_end = end
            elif self._unvoiced_run >= self._hang:
                self._close()

    def _close(self) -> None:
        if self._open_start is not None and self._last_voiced_end is not None:
            self._segments.append((round(self._open_start, 3), round(self._last_voiced_end, 3)))
        self._open_start = None
        self._in_segment = False

    # -- queries ---------------------------------------------------------
    @property
    def elapsed_s(self) -> float:
        """Audio analysed so far (whole frames)."""
        return self._frames * FRAME_S

    @property
    def speech_started(self) -> bool:
        return bool(self._segments) or self._in_segment

    @property
    def speaking(self) -> bool:
        """Inside a speech segment right now."""
        return self._in_segment

    @property
    def speech_start_s(self) -> float | None:
        if self._segments:
            return self._segments[0][0]
        return self._open_start

    @property
    def speech_end_s(self) -> float | None:
        """End of the last voiced frame of speech."""
        return self._last_voiced_end if self.speech_started else None

    @property
    def silence_s(self) -> float:
        """Time since the last speech (since the start when none yet)."""
        last = self.speech_end_s
        return self.elapsed_s - (last if last is not None else 0.0)

    def segments(self) -> list[tuple[float, float]]:
        """Speech segments so far, the open one included."""
        out = list(self._segments)
        if self._in_segment and self._open_start is not None and self._last_voiced_end is not None:
            out.append((round(self._open_start, 3), round(self._last_voiced_end, 3)))
        return out

    def pauses(self, min_pause_s: float = 0.0) -> list[tuple[float, float]]:
        """Silences between speech segments at least ``min_pause_s`` long."""
        return pauses(self.segments(), min_pause_s)


def speech_segments(
    samples: np.ndarray, settings: VadSettings | None = None
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in a whole 16 kHz mono clip."""
    va = VoiceActivity(settings)
    va.feed(samples)
    # close a segment still open at the end of the clip
    return va.segments()


def pauses(
    segments: list[tuple[float, float]] | tuple[tuple[float, float], ...],
    min_pause_s: float = 0.0,
) -> list[tuple[float, float]]:
    """Gaps between consecutive speech segments lasting ``min_pause_s`` or more."""
    out = []
    ordered = sorted(segments)
    for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
        if start - end >= min_pause_s and start > end:
            out.append((end, start))
    return out
