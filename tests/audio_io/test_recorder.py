"""Recording answers from the virtual microphone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest

from audio.clip import read_audio
from audio.errors import NoMicrophone
from audio.recorder import Recorder, RecorderSettings
from audio.results import Recording
from tests.audio_io import as_16k_wav, play_into_mic, similarity
from tests.conftest import REPO, TEST_DATA

pytestmark = [pytest.mark.audio, pytest.mark.e2e]

SILENCE_S = 1.5
"""The silence that ends an answer in these tests."""


@pytest.fixture(scope="module")
def jfk_wav(tmp_path_factory):
    return as_16k_wav(TEST_DATA / "jfk.flac", tmp_path_factory.mktemp("jfk"))


@dataclass(frozen=True)
class Recorded:
    """One answer recorded from the virtual microphone while jfk.flac played."""

    result: Recording
    fed: list[np.ndarray]
    levels: list[float]
    ended: bool


@pytest.fixture(scope="module")
def recorded(vaudio, tmp_path_factory, jfk_wav) -> Recorded:
    """The clip played into the virtual microphone once, recorded until 1.5 s
    of silence; the tests below check what the recording holds, how it ended,
    and that it transcribes (one real recording serves them all)."""
    fed: list[np.ndarray] = []
    levels: list[float] = []
    rec = Recorder(RecorderSettings(silence_timeout_s=SILENCE_S), feed=fed.append)
    rec.start(tmp_path_factory.mktemp("recorded") / "answer.wav", on_level=levels.append)
    time.sleep(0.3)
    play_into_mic(jfk_wav).wait(30)
    ended = rec.wait(10)
    return Recorded(rec.stop(), fed, levels, ended)


def test_recorded_answer_matches_what_was_said(recorded, jfk_wav):
    assert recorded.ended, "the answer did not end after the speech stopped"
    result = recorded.result
    assert result.stopped_by == "silence"
    assert result.speech_detected
    assert 0.1 < result.speech_start_s < 1.5
    assert result.pauses and all(end > start for start, end in result.pauses)
    clip = read_audio(result.path)
    assert abs(clip.duration_s - result.duration_s) < 0.05
    source = read_audio(jfk_wav)
    score = similarity(source.samples, clip.samples)
    assert score >= 0.8, f"recording differs from the source (ncc {score:.2f})"
    assert sum(len(b) for b in recorded.fed) == len(clip.samples)
    assert max(recorded.levels) > -30 and min(recorded.levels) < -60


@pytest.mark.slow
def test_recorded_answer_transcribes(recorded, transcriber):
    text = transcriber.transcribe(read_audio(recorded.result.path)).text.lower()
    assert "fellow americans" in text


def test_silence_ends_the_answer_on_time(recorded):
    assert recorded.ended
    result = recorded.result
    # the recording ran until the configured silence after the last speech
    overshoot = result.duration_s - result.speech_end_s - SILENCE_S
    assert -0.05 <= overshoot <= 0.5, f"ended {overshoot:+.2f} s after the configured silence"


def test_no_speech_is_recognised_and_limit_stops(vaudio, tmp_path):
    rec = Recorder(RecorderSettings(max_duration_s=1.5))
    started = time.monotonic()
    rec.start(tmp_path / "quiet.wav")
    assert rec.wait(5)
    took = time.monotonic() - started
    result = rec.stop()
    assert result.stopped_by == "limit"
    assert not result.speech_detected and result.speech_start_s is None
    assert 1.4 <= result.duration_s <= 1.7
    assert took < 3.0


def test_user_stop(vaudio, tmp_path):
    rec = Recorder()
    rec.start(tmp_path / "a.wav")
    time.sleep(0.6)
    assert not rec.wait(0.1)
    result = rec.stop()
    assert result.stopped_by == "user" and result.error is None
    assert 0.4 <= read_audio(result.path).duration_s <= 1.0


_CHILD = """
import sys, time
from pathlib import Path
from audio.recorder import Recorder, RecorderSettings
rec = Recorder(RecorderSettings(silence_timeout_s=60))
rec.start(Path(sys.argv[1]))
print("recording", flush=True)
time.sleep(120)
"""


def test_killed_recorder_leaves_a_readable_wav(vaudio, tmp_path, jfk_wav):
    wav = tmp_path / "crash.wav"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(wav)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "recording"
        started = time.monotonic()
        player = play_into_mic(jfk_wav)
        time.sleep(6.0)
        recorded_for = time.monotonic() - started
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        player.terminate()  # the rest of the clip is not needed
        player.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    clip = read_audio(wav)  # readable as is, no repair needed
    lost = recorded_for - clip.duration_s
    assert lost <= 1.0, f"lost {lost:.2f} s of audio"
    # Seconds 1-4 of the speech: the virtual card may re-time a few samples while
    # a new stream settles (once seen: the first second shifted, the rest exact,
    # loudness identical throughout), and waveform correlation cannot absorb a shift.
    assert similarity(read_audio(jfk_wav).samples[16000 : 16000 * 4], clip.samples) >= 0.8


def test_no_input_device_is_no_microphone(vaudio, tmp_path):
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from audio.recorder import Recorder\nfrom audio.errors import NoMicrophone\n"
        "try:\n"
        f"    Recorder().start(Path({str(tmp_path / 'x.wav')!r}))\n"
        "except NoMicrophone as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    env = dict(os.environ, PULSE_SERVER=f"unix:{tmp_path}/nowhere")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "type your answer" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_unknown_device_name_is_no_microphone(vaudio, tmp_path):
    rec = Recorder(RecorderSettings(device="no-such-mic"))
    rec.warm()  # warming up never raises: start() says what is wrong
    with pytest.raises(NoMicrophone, match="no-such-mic"):
        rec.start(tmp_path / "x.wav")


def test_a_warmed_recorder_records(vaudio, tmp_path):
    rec = Recorder(RecorderSettings(silence_timeout_s=60))
    rec.warm()
    rec.start(tmp_path / "w.wav")
    time.sleep(0.3)
    result = rec.stop()
    assert result.error is None and result.duration_s >= 0.2


_LOST_CHILD = """
import sys, time, json
from pathlib import Path
from audio.recorder import Recorder, RecorderSettings
rec = Recorder(RecorderSettings(silence_timeout_s=60))
rec.start(Path(sys.argv[1]))
print("recording", flush=True)
ended = rec.wait(float(sys.argv[2]))
r = rec.stop()
print(json.dumps({"ended": ended, "by": r.stopped_by, "error": r.error, "dur": r.duration_s}))
"""


def test_device_lost_mid_answer_keeps_the_audio(vaudio, tmp_path):
    """A second, private virtual card is killed while a child records from it."""
    import json

    env = dict(os.environ, VAUDIO_DIR=str(tmp_path / "card"))
    up = subprocess.run(["bash", str(REPO / "tests/vaudio/up.sh")], env=env,
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stderr
    env["PULSE_SERVER"] = f"unix:{tmp_path / 'card' / 'native'}"
    wav = tmp_path / "lost.wav"
    child = subprocess.Popen([sys.executable, "-c", _LOST_CHILD, str(wav), "20"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "recording"
        time.sleep(1.5)
        killed_at = time.monotonic()
        pid = int((tmp_path / "card" / "daemon.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        out = json.loads(child.stdout.readline())
        detected_after = time.monotonic() - killed_at
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        subprocess.run(["bash", str(REPO / "tests/vaudio/down.sh")], env=env,
                       capture_output=True, timeout=30)
    assert out["ended"] and out["by"] == "device_lost", out
    assert "device lost" in out["error"]
    assert detected_after < 3.0
    assert read_audio(wav).duration_s >= 1.0
