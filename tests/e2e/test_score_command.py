"""`interviewer score` end to end: the real bundled model on real speech, and
every kind of odd audio file ending in one clear line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from tests.conftest import REPO, TEST_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _score(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "interviewer", "score", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def question_id() -> str:
    import questions

    return questions.default_bank().questions[0].id


def test_jfk_json_contract(question_id):
    r = _score(str(TEST_DATA / "jfk.flac"), "--question", question_id, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["question_id"] == question_id
    assert "fellow americans" in out["transcript"].lower()
    assert "ask not what your country" in out["transcript"].lower()
    assert isinstance(out["score"], int) and 0 <= out["score"] <= 100
    # a speech about one's country covers no key point of an ML question
    assert out["score"] < 30
    assert out["key_points"] and all({"text", "covered", "evidence"} <= set(k) for k in out["key_points"])
    assert isinstance(out["delivery"], dict)
    assert out["timings"]["transcribe_s"] > 0 and out["timings"]["grade_s"] >= 0
    assert "Traceback" not in r.stderr


def _write_wav(path, samples: np.ndarray, rate: int, width: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            data = (np.clip(samples, -1, 1) * 127 + 128).astype(np.uint8)
        else:
            data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        w.writeframes(data.tobytes())


def test_8bit_and_stereo_44k_are_resampled(tmp_path, question_id):
    from audio.clip import read_audio

    jfk = read_audio(TEST_DATA / "jfk.flac")
    x = jfk.samples
    t_in = np.arange(len(x)) / 16000
    t_out = np.arange(int(len(x) * 44100 / 16000)) / 44100
    up = np.interp(t_out, t_in, x)
    stereo = np.stack([up, up], axis=1).reshape(-1)
    p = tmp_path / "stereo44k.wav"
    _write_wav(p, stereo, 44100, 2, channels=2)
    p8 = tmp_path / "eight.wav"
    _write_wav(p8, x, 16000, 1)
    for path in (p, p8):
        clip = read_audio(path)
        assert clip.sample_rate == 16000
        assert abs(clip.duration_s - jfk.duration_s) < 0.05
    r = _score(str(p), "--question", question_id, "--json")
    assert r.returncode == 0, r.stderr
    assert "fellow americans" in json.loads(r.stdout.splitlines()[-1])["transcript"].lower()


@pytest.mark.parametrize(
    "name,content,expect",
    [
        ("empty.wav", b"", "empty"),
        ("notaudio.wav", b"this is plainly not audio at all\n" * 20, "not a readable"),
        ("truncated.flac", None, "not a readable"),
        ("song.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4, "not a readable"),
    ],
)
def test_bad_audio_gives_one_clear_line(tmp_path, question_id, name, content, expect):
    p = tmp_path / name
    if content is None:
        p.write_bytes((TEST_DATA / "jfk.flac").read_bytes()[:300])
    else:
        p.write_bytes(content)
    r = _score(str(p), "--question", question_id)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert expect in lines[0] and name in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_file_and_unknown_question(tmp_path, question_id):
    r = _score(str(tmp_path / "nope.wav"), "--question", question_id)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = _score(str(TEST_DATA / "jfk.flac"), "--question", "no-such-question")
    assert r.returncode == 2 and "no question 'no-such-question'" in r.stderr
    assert "Traceback" not in r.stderr


def test_silence_is_not_scored(tmp_path, question_id):
    p = tmp_path / "silence.wav"
    rng = np.random.default_rng(0)
    _write_wav(p, rng.normal(0, 0.001, 16000 * 4), 16000, 2)
    r = _score(str(p), "--question", question_id, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["score"] is None
    assert out["flags"]["no_speech"] is True
    assert out["transcript"].strip() == ""
