"""The installed ``interviewer`` command in a real terminal (tmux): answer two
questions by typing, quit, and find both answers in the JSON export."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent / "interviewer"


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _screen(name: str) -> str:
    return _tmux("capture-pane", "-p", "-t", name)


def _wait(name: str, text: str, timeout: float = 90.0) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _screen(name)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def test_two_typed_answers_end_up_in_the_export(tmp_path, tmux_session):
    assert BIN.exists(), f"the console script is not installed beside {sys.executable}"
    env = {
        "INTERVIEWER_DATA_DIR": tmp_path / "data",
        "INTERVIEWER_CONFIG_DIR": tmp_path / "config",
        "INTERVIEWER_CACHE_DIR": os.environ["INTERVIEWER_CACHE_DIR"],
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    # two answers, no follow-up questions in between: this test is about typing and exporting
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(json.dumps({"followups": 0}))
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    done = tmp_path / "exit-status"
    command = (f"env {exports} {BIN} practice --typed --count 2 --seed 3; "
               f"echo $? > {done}; sleep 30")
    _tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", tmux_session, command)

    answers = [
        "The main idea is that the model learns from feedback and the reward model guides it.",
        "Attention lets each token weigh the other tokens when building its representation.",
    ]
    for number, answer in enumerate(answers, 1):
        _wait(tmux_session, f"question {number} of 2")
        _wait(tmux_session, "typing")
        _tmux("send-keys", "-t", tmux_session, "-l", answer)
        _tmux("send-keys", "-t", tmux_session, "C-s")
        _wait(tmux_session, "/100", timeout=180)  # the first grade loads the matcher
        _tmux("send-keys", "-t", tmux_session, "n")
    _wait(tmux_session, "done")
    _tmux("send-keys", "-t", tmux_session, "C-q")
    end = time.monotonic() + 30
    while not done.exists() and time.monotonic() < end:
        time.sleep(0.2)
    assert done.exists() and done.read_text().strip() == "0"

    rows = _exported(tmp_path, {k: str(v) for k, v in env.items()})
    typed = [r for r in rows if r.get("typed")]
    assert [r["transcript"] for r in typed] == answers
    assert all(r["state"] == "graded" and r["score"] is not None for r in typed)


def _exported(tmp_path: Path, env: dict[str, str]) -> list[dict]:
    """The attempts through ``interviewer export --all --format json``; the
    SQLite file directly if this build has no export command."""
    out = tmp_path / "export.json"
    result = subprocess.run(
        [str(BIN), "export", "--all", "--format", "json", "-o", str(out)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )
    if result.returncode == 0 and out.exists():
        data = json.loads(out.read_text())
        if isinstance(data, dict):
            data = data.get("attempts", data.get("rows", []))
        return sorted(data, key=lambda r: r["id"])
    assert "invalid choice" in result.stderr, result.stderr
    with sqlite3.connect(tmp_path / "data" / "attempts.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY id")]
