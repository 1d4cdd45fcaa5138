"""The audio data contract: 16 kHz mono float32 samples in [-1, 1].

Everything the recorder produces and the transcriber consumes is an
``AudioClip``. Reading files needs no ffmpeg: WAV through the standard library,
FLAC/OGG/MP3 through libsndfile (the ``soundfile`` wheel bundles it).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.errors import one_line

SAMPLE_RATE = 16_000
"""Hz; what whisper expects."""
CHANNELS = 1
SAMPLE_WIDTH = 2
"""Bytes per sample in the WAV files we write (16-bit PCM)."""


class AudioFileError(Exception):
    """An audio file could not be read; the message says why and what to do."""


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray
    """float32, mono, at ``sample_rate``."""
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    def rms(self) -> float:
        if len(self.samples) == 0:
            return 0.0
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64))))


def to_mono(samples: np.ndarray) -> np.ndarray:
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by FFT-free polyphase-like linear interpolation
    after a simple low-pass when downsampling. Good enough for speech
    recognition; exact when the rates are equal."""
    if rate_in == rate_out or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    x = samples.astype(np.float64)
    if rate_out < rate_in:
        # windowed-sinc low-pass at the new Nyquist frequency
        cutoff = 0.5 * rate_out / rate_in
        taps = 63
        n = np.arange(taps) - (taps - 1) / 2
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
        h /= h.sum()
        x = np.convolve(x, h, mode="same")
    n_out = int(round(len(x) * rate_out / rate_in))
    t_out = np.arange(n_out) * (rate_in / rate_out)
    y: np.ndarray = np.interp(t_out, np.arange(len(x)), x)
    return y.astype(np.float32)


def read_audio(path: str | Path) -> AudioClip:
    """Read any WAV/FLAC/OGG (and MP3 where libsndfile supports it) as a
    16 kHz mono float32 clip. Raises ``AudioFileError`` with a clear message."""
    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: the file is empty")
    try:
        samples, rate = _read_with_soundfile(p)
    except ImportError:
        samples, rate = _read_wav_stdlib(p)
    samples = to_mono(samples)
    return AudioClip(resample(samples, rate), SAMPLE_RATE)


def _read_with_soundfile(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=False)
    except Exception as exc:  # libsndfile's errors are a RuntimeError subclass
        if p.suffix.lower() == ".wav":
            try:
                return _read_wav_stdlib(p)
            except AudioFileError:
                pass
        raise AudioFileError(
            f"{p}: not a readable audio file ({one_line(exc)}); "
            "use WAV, FLAC or OGG, for example: ffmpeg -i INPUT -ar 16000 -ac 1 answer.wav"
        ) from None
    if len(data) == 0:
        raise AudioFileError(f"{p}: the file holds no audio samples")
    return data, int(rate)


def _read_wav_stdlib(p: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(p), "rb") as w:
            width = w.getsampwidth()
            channels = w.getnchannels()
            rate = w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"{p}: not a readable WAV file ({exc})") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise AudioFileError(f"{p}: unsupported WAV sample width {width * 8} bits")
    usable = len(data) - len(data) % channels
    data = data[:usable]
    if channels > 1:
        data = data.reshape(-1, channels)
    if len(data) == 0:
        raise AudioFileError(f"{p}: the file holds no audio samples")
    return data, rate


def write_wav(path: str | Path, clip: AudioClip) -> Path:
    """Write a clip as 16-bit PCM mono WAV."""
    p = Path(path)
    pcm = np.clip(clip.samples, -1.0, 1.0)
    pcm16 = (pcm * 32767.0).astype("<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(clip.sample_rate)
        w.writeframes(pcm16.tobytes())
    return p

