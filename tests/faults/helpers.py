"""Checks shared by the fault tests (no fixtures here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.faults.conftest import JFK


def jfk_samples() -> np.ndarray:
    from audio.clip import read_audio

    return np.asarray(read_audio(JFK).samples, dtype=np.float32)


def trimmed_jfk(folder: Path, seconds: float) -> Path:
    """The first ``seconds`` of the speech clip, as a WAV (a shorter answer)."""
    from audio.clip import SAMPLE_RATE, AudioClip, write_wav

    out = folder / f"jfk_{seconds:g}s.wav"
    if not out.exists():
        write_wav(out, AudioClip(jfk_samples()[: int(seconds * SAMPLE_RATE)]))
    return out


def envelope(x: np.ndarray, hop: int = 160) -> np.ndarray:
    """10 ms RMS envelope (robust to the small timing and gain changes of a
    trip through the sound server)."""
    n = len(x) // hop
    if n == 0:
        return np.zeros(0)
    frames = np.asarray(x[: n * hop], dtype=np.float64).reshape(n, hop)
    return np.sqrt((frames**2).mean(axis=1) + 1e-12)


def best_alignment(recorded: np.ndarray, source: np.ndarray, max_lead_s: float = 1.0) -> tuple[float, int]:
    """Best normalised correlation of the recorded envelope against the
    source's over lags; returns (correlation, lag in 10 ms frames: where the
    source starts inside the recording, negative when the recording began
    up to ``max_lead_s`` into the source, e.g. inside its leading silence)."""
    r = envelope(recorded)
    s = envelope(source)
    # a lag must overlap most of the shorter signal: a short tail overlap
    # can correlate highly by chance
    need = max(50, int(0.6 * min(len(r), len(s))))
    best, best_lag = -1.0, 0
    for lag in range(-int(max_lead_s * 100), max(1, len(r) - 50)):
        seg = r[lag:] if lag >= 0 else r
        src = s if lag >= 0 else s[-lag:]
        m = min(len(seg), len(src))
        if m < need:
            continue
        a = seg[:m] - seg[:m].mean()
        b = src[:m] - src[:m].mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        if den == 0:
            continue
        c = float((a * b).sum() / den)
        if c > best:
            best, best_lag = c, lag
    return best, best_lag
