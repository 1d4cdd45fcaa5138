"""Case 1: the sound system fails in every way a user meets it, and each
ends in one clear line with nothing already recorded lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REPO
from tests.faults.conftest import (
    QUESTION,
    Driver,
    assert_one_line_error,
    run_cli,
    sitecustomize,
    start_card,
    stop_card,
)
from tests.faults.helpers import best_alignment, jfk_samples, trimmed_jfk

NO_PORTAUDIO = """
import sys

class _NoPortAudio:
    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice" or name.startswith("_sounddevice"):
            raise OSError("PortAudio library not found")
        return None

sys.meta_path.insert(0, _NoPortAudio())
"""

PROBE = """
import sys
from pathlib import Path
from audio.errors import AudioError
from audio.recorder import Recorder
try:
    Recorder().start(Path(sys.argv[1]))
except AudioError as exc:
    print(type(exc).__name__ + ": " + str(exc))
    sys.exit(3)
print("recording started")
"""


def _probe(env, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "probe.wav")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )


def _result(out: str) -> dict:
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert lines, out
    return json.loads(lines[-1][len("RESULT "):])


def test_no_portaudio_library(sub_env, tmp_path):
    env = dict(sub_env)
    site = sitecustomize(tmp_path / "site", NO_PORTAUDIO)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    r = _probe(env, tmp_path)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert r.stdout.startswith("NoPortAudio: "), r.stdout
    assert "apt-get install libportaudio2" in r.stdout
    assert "Traceback" not in r.stderr
    d = run_cli("doctor", "--quick", "--no-mic", env=env, timeout=120)
    text = d.stdout + d.stderr
    assert "Traceback" not in text, text
    line = next((ln for ln in text.splitlines() if "portaudio" in ln.lower()), "")
    assert "FAIL" in line.upper(), text
    assert "apt-get install" in text and "libportaudio2" in text, text


def test_no_input_device(sub_env, tmp_path, bank_file):
    env = dict(sub_env, PULSE_SERVER=f"unix:{tmp_path / 'no-such-server'}")
    r = _probe(env, tmp_path)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert r.stdout.startswith("NoMicrophone: "), r.stdout
    assert "type your answer" in r.stdout
    assert "Traceback" not in r.stderr and "ALSA lib" not in r.stderr, r.stderr
    # the whole session: one line, offering to type, and no half-made attempt left behind
    d = subprocess.run(
        [sys.executable, str(REPO / "tests/faults/drivers/session_driver.py"), "--bank", str(bank_file),
         "--question", QUESTION, "--no-speak", "--lazy-model"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert_one_line_error(d, "type your answer")
    assert len([ln for ln in d.stderr.splitlines() if ln.strip()]) == 1, d.stderr
    from interviewer.session.store import Store

    with Store() as store:
        assert store.interrupted_attempts() == []
        assert all(a.state == "failed" for a in store.attempts())


@pytest.mark.e2e
@pytest.mark.audio
@pytest.mark.slow
def test_device_lost_mid_answer_keeps_what_was_said(sub_env, tmp_path, bank_file, drivers):
    """The sound server dies while the answer is being recorded (a separate
    card instance, so other tests keep theirs)."""
    card = start_card(tmp_path / "card")
    try:
        d = Driver(
            "session_driver.py",
            ["--bank", str(bank_file), "--question", QUESTION, "--no-speak", "--lazy-model",
             "--silence", "5", "--max-answer", "30"],
            card.env(sub_env),
        )
        drivers.append(d)
        d.wait_for("PHASE recording", timeout=120)
        started = time.monotonic()
        card.feed(trimmed_jfk(tmp_path, 7.5))
        time.sleep(4.0)
        pid = card.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the daemon this test started
        fed_s = time.monotonic() - started
        code, out, err = d.finish(timeout=120)
    finally:
        stop_card(card)
    assert code == 0, err
    assert "Traceback" not in err
    res = _result(out)
    assert res["stopped_by"] == "device_lost", res
    assert res["error"] and "device lost" in res["error"].lower()
    from audio.clip import read_audio
    from interviewer.session.store import Store

    with Store() as store:
        a = store.get_attempt(res["attempt"])
        assert a.extra["stopped_by"] == "device_lost"
        clip = read_audio(a.audio_path)
    # what was said before the server died is in the file
    assert clip.duration_s >= fed_s - 1.5, (clip.duration_s, fed_s)
    said = jfk_samples()[: int(min(clip.duration_s, 3.5) * 16000)]
    corr, _lag = best_alignment(np.asarray(clip.samples), said)
    assert corr > 0.6, corr
    assert "americans" in res["transcript"].lower(), res
    assert res["score"] is not None


@pytest.mark.e2e
@pytest.mark.audio
def test_silence_only_is_not_graded(fault_card, sub_env, bank_file, drivers):
    d = Driver(
        "session_driver.py",
        ["--bank", str(bank_file), "--question", QUESTION, "--no-speak", "--lazy-model",
         "--no-speech-timeout", "2.5"],
        fault_card.env(sub_env),
    )
    drivers.append(d)
    code, out, err = d.finish(timeout=120)
    assert code == 0, err
    res = _result(out)
    assert res["stopped_by"] == "silence" and res["speech"] is False, res
    assert res["score"] is None and res["no_speech"] is True, res
    from interviewer.session.store import Store

    with Store() as store:
        a = store.get_attempt(res["attempt"])
        assert a.score is None and a.assessment and a.assessment.get("no_speech")


@pytest.mark.e2e
@pytest.mark.audio
@pytest.mark.slow
def test_answer_past_the_limit_is_cut_and_graded(fault_card, sub_env, bank_file, tmp_path, drivers):
    d = Driver(
        "session_driver.py",
        ["--bank", str(bank_file), "--question", QUESTION, "--no-speak", "--max-answer", "3",
         "--silence", "5"],
        fault_card.env(sub_env),
    )
    drivers.append(d)
    d.wait_for("PHASE recording", timeout=240)
    fault_card.feed(trimmed_jfk(tmp_path, 7.5))
    code, out, err = d.finish(timeout=120)
    assert code == 0, err
    res = _result(out)
    assert res["stopped_by"] == "limit", res
    assert 2.9 <= res["duration_s"] <= 3.6, res
    assert res["state"] == "graded" and res["score"] is not None, res
    assert "americans" in res["transcript"].lower(), res
