"""``interviewer doctor`` against the virtual card and against no card at all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.audio, pytest.mark.e2e]


def _doctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "interviewer", "doctor", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_doctor_passes_with_the_virtual_card(vaudio):
    proc = _doctor("--quick", env=dict(os.environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("OK    PortAudio") for line in lines)
    assert any("[default input" in line for line in lines)
    assert any(line.startswith("OK    speech engine") for line in lines)
    # the virtual microphone carries silence: reported, not fatal
    assert any(line.startswith("WARN  recording") and "muted" in line for line in lines)
    assert "What to fix" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_doctor_fails_cleanly_without_a_sound_server(vaudio, tmp_path):
    env = dict(os.environ, PULSE_SERVER=f"unix:{tmp_path}/nowhere")
    proc = _doctor("--quick", "--no-mic", env=env)
    assert proc.returncode == 1
    assert "FAIL  microphone" in proc.stdout
    fixes = proc.stdout.split("What to fix:")[1]
    assert "microphone" in fixes
    assert "Traceback" not in proc.stderr + proc.stdout
