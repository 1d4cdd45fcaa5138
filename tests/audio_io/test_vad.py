"""Voice activity on real speech and synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, read_audio
from audio.vad import VadSettings, VoiceActivity, dbfs, pauses, speech_segments
from tests.conftest import TEST_DATA


@pytest.fixture(scope="module")
def jfk():
    return read_audio(TEST_DATA / "jfk.flac").samples


def _silence(s: float) -> np.ndarray:
    return np.zeros(int(s * SAMPLE_RATE), dtype=np.float32)


def test_silence_hum_and_steady_noise_are_not_speech():
    rng = np.random.default_rng(1)
    t = np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE
    assert speech_segments(_silence(3)) == []
    assert speech_segments((0.1 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)) == []
    assert speech_segments((0.03 * rng.standard_normal(len(t))).astype(np.float32)) == []


def test_speech_is_found_where_it_was_placed(jfk):
    signal = np.concatenate([_silence(2.0), jfk[: SAMPLE_RATE * 3], _silence(2.0)])
    segs = speech_segments(signal)
    assert segs, "no speech found"
    assert 2.0 <= segs[0][0] <= 2.6
    assert 4.0 <= segs[-1][1] <= 5.1


def test_speech_over_steady_noise_is_still_found(jfk):
    rng = np.random.default_rng(2)
    noise = (0.01 * rng.standard_normal(SAMPLE_RATE * 14)).astype(np.float32)
    signal = noise.copy()
    signal[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + len(jfk)] += jfk
    segs = speech_segments(signal)
    assert segs and segs[0][0] >= 1.8
    assert sum(e - s for s, e in segs) > 4.0


def test_streaming_matches_offline_for_any_block_size(jfk):
    offline = speech_segments(jfk)
    for block in (160, 480, 777, 1600, 8000):
        va = VoiceActivity()
        for i in range(0, len(jfk), block):
            va.feed(jfk[i : i + block])
        assert va.segments() == offline


def test_streaming_state_and_pauses(jfk):
    va = VoiceActivity()
    va.feed(_silence(1.0))
    assert not va.speech_started and va.silence_s == pytest.approx(0.99, abs=0.04)
    va.feed(jfk)
    va.feed(_silence(2.0))
    assert va.speech_started and not va.speaking
    assert va.silence_s >= 1.9
    gaps = va.pauses(0.5)
    assert gaps and all(e - s >= 0.5 for s, e in gaps)
    assert va.speech_start_s >= 1.0


def test_pauses_between_segments():
    segs = [(0.0, 1.0), (1.2, 2.0), (4.0, 5.0)]
    assert pauses(segs) == [(1.0, 1.2), (2.0, 4.0)]
    assert pauses(segs, 1.0) == [(2.0, 4.0)]


def test_quiet_floor_setting_rejects_whispers(jfk):
    quiet = (jfk * 10 ** (-40 / 20)).astype(np.float32)  # 40 dB down
    assert speech_segments(quiet, VadSettings(min_dbfs=-40)) == []
    assert speech_segments(jfk, VadSettings(min_dbfs=-40)) != []


def test_dbfs():
    assert dbfs(np.zeros(100, np.float32)) == -120.0
    assert dbfs(np.ones(100, np.float32)) == pytest.approx(0.0)
    assert dbfs(np.full(100, 0.1, np.float32)) == pytest.approx(-20.0)
