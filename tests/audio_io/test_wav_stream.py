"""The recorder's streamed WAV, its repair, and block-wise resampling."""

from __future__ import annotations

import struct
import wave

import numpy as np
import pytest

from audio.clip import AudioFileError, read_audio, resample
from audio.recorder import StreamResampler, _WavSink, repair_wav


def test_sink_is_readable_after_every_flush(tmp_path):
    sink = _WavSink(tmp_path / "a.wav")
    tone = (0.5 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    sink.write(tone[:8000])
    sink.flush()
    assert read_audio(tmp_path / "a.wav").duration_s == pytest.approx(0.5)
    sink.write(tone[8000:])
    sink.close()
    back = read_audio(tmp_path / "a.wav").samples
    assert np.max(np.abs(back - tone)) < 1e-3


def test_repair_fixes_a_file_cut_short(tmp_path):
    path = tmp_path / "cut.wav"
    sink = _WavSink(path)
    sink.write(np.zeros(4000, np.float32))
    sink.flush()
    sink.write(np.full(12001, 0.25, np.float32))  # written, header not patched
    sink._f.flush()
    with open(path, "ab") as f:
        f.write(b"\x01")  # half a sample, as a crash mid-write leaves
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == 4000  # the stale header hides the rest
    assert repair_wav(path) == 16001
    assert read_audio(path).duration_s == pytest.approx(16001 / 16000)
    riff = struct.unpack("<I", path.read_bytes()[4:8])[0]
    assert riff == path.stat().st_size - 8


def test_repair_refuses_non_wav(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(AudioFileError):
        repair_wav(bad)


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 8000])
def test_stream_resampler_matches_whole_clip(rate):
    t = np.arange(rate * 2) / rate
    x = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    r = StreamResampler(rate)
    y = np.concatenate([r.process(x[i : i + 1234]) for i in range(0, len(x), 1234)])
    ref = resample(x, rate, 16000)
    assert abs(len(y) - len(ref)) <= 32 * 16000 / rate + 2  # held back by the filter delay
    n = min(len(y), len(ref)) - 200
    corr = np.corrcoef(y[200:n], ref[200:n])[0, 1]
    assert corr > 0.99
