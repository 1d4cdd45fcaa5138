"""Tests of speaking, recording, voice activity and delivery metrics.

Helpers shared by the real-audio tests live here: capturing what the trainer
plays, feeding the virtual microphone, and comparing two signals.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audio.clip import SAMPLE_RATE, AudioClip, read_audio, write_wav


def similarity(reference: np.ndarray, capture: np.ndarray) -> float:
    """Pearson correlation of ``reference`` with the best-aligned stretch of
    ``capture`` (both 16 kHz): 1.0 is the same waveform, ~0 unrelated."""
    ref = reference.astype(np.float64) - reference.mean()
    cap = capture.astype(np.float64) - capture.mean()
    n = 1 << int(np.ceil(np.log2(len(ref) + len(cap))))
    corr = np.fft.irfft(np.fft.rfft(cap, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(np.abs(corr[: len(cap)])))
    seg = cap[lag : lag + len(ref)]
    r = ref[: len(seg)]
    denom = np.linalg.norm(r) * np.linalg.norm(seg)
    return float(abs(np.dot(r, seg)) / denom) if denom else 0.0


def windowed_similarity(reference: np.ndarray, capture: np.ndarray, window_s: float = 1.0) -> float:
    """Median of :func:`similarity` over the voiced one-second windows of
    ``reference``, each aligned on its own: a short dropout or a shifted
    buffer under load spoils one window, not the whole comparison."""
    size = int(window_s * SAMPLE_RATE)
    windows = [reference[i : i + size] for i in range(0, len(reference) - size // 2, size)]
    loudness = [float(np.sqrt(np.mean(np.square(w)))) for w in windows]
    floor = 0.1 * max(loudness, default=0.0)
    scores = [similarity(w, capture) for w, rms in zip(windows, loudness, strict=True) if rms > floor]
    return float(np.median(scores)) if scores else 0.0


def assert_heard_back(transcriber, clip: AudioClip, expected: str, max_wer: float = 0.25) -> None:
    """Transcribe ``clip`` and require it to read as ``expected`` (word
    error rate at most ``max_wer``, case and punctuation ignored)."""
    import jiwer

    text = transcriber.transcribe(clip).text
    clean = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(),
                           jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    wer = jiwer.wer(clean(expected), clean(text))
    assert wer <= max_wer, f"heard {text!r} (WER {wer:.2f})"


def as_16k_wav(source: Path, out_dir: Path) -> Path:
    """A 16 kHz mono WAV copy of any audio file (paplay plays WAV/FLAC alike,
    but a fixed format keeps the comparison simple)."""
    clip = read_audio(source)
    return write_wav(out_dir / (source.stem + ".16k.wav"), clip)


def play_into_mic(path: Path) -> subprocess.Popen:
    """Start playing ``path`` into the virtual microphone; returns the process."""
    return subprocess.Popen(
        ["paplay", "--device=vmic_feed", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def capture_speaker() -> Iterator[list[AudioClip]]:
    """Record the virtual speaker's monitor while the block runs; the list
    receives one 16 kHz clip when the block ends."""
    out: list[AudioClip] = []
    with tempfile.TemporaryFile() as raw:
        proc = subprocess.Popen(
            ["parec", "--device=vspeaker.monitor", "--raw", f"--rate={SAMPLE_RATE}",
             "--channels=1", "--format=s16le", "--latency-msec=20"],
            stdout=raw,
            stderr=subprocess.DEVNULL,
        )
        # the capture stream is connected once the monitor delivers samples
        deadline = time.monotonic() + 5.0
        while os.fstat(raw.fileno()).st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        try:
            yield out
            time.sleep(0.4)  # the tail still in the server's buffers
        finally:
            proc.terminate()
            proc.wait(5)
        raw.seek(0)
        data = np.frombuffer(raw.read(), dtype="<i2").astype(np.float32) / 32768.0
    out.append(AudioClip(data))
