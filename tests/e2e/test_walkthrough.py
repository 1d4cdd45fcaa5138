"""A new user's first session, driven through the installed command in a real
terminal (tmux) with the virtual sound card:

1. from the home screen, a practice session of two questions: the first
   answered aloud after a 5 s pause for thought (an espeak-ng answer played
   into the virtual microphone), its follow-up question skipped with s; the
   second typed, its follow-up skipped with an empty typed reply (neither answer
   covers every key point of any question in the bank, so the interviewer
   always follows up);
2. a rapid-fire round started from the home screen, ended with Esc in the
   middle of its first answer;
3. the review screen, then ``interviewer export``.

It asserts what the screens say (tmux capture-pane), the rows in the test's
own SQLite file and the delivery figures: the thinking pause is the time to
the first word, not slow speech.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.slow]

BIN = Path(sys.executable).parent / "interviewer"
THINKING_S = 5.0
SPOKEN = (
    "The main idea is to measure it on data the model never saw during training. "
    "We keep a held out test set, compare the loss on training and validation data, "
    "and stop early when the validation loss starts to rise."
)
RAPID = (
    "Attention lets every token look at every other token and take a weighted sum of their "
    "values, with weights from a softmax over the scaled dot products of queries and keys."
)
TYPED = "A key value cache keeps the keys and values of earlier tokens so they are not recomputed."


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _screen(name: str) -> str:
    return _tmux("capture-pane", "-p", "-t", name)


T0 = time.monotonic()


def _wait(name: str, text: str, timeout: float = 60.0) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _screen(name)
        if text in screen:
            print(f"{time.monotonic() - T0:6.1f} s  {text}")
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def _scroll_to(name: str, text: str, timeout: float = 15.0) -> str:
    """Page down until ``text`` is on screen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        screen = _screen(name)
        if text in screen:
            return screen
        _keys(name, "Down")  # a line at a time: a page could jump past it
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never scrolled into view:\n{_screen(name)}")


def _keys(name: str, *keys: str, literal: bool = False) -> None:
    _tmux("send-keys", "-t", name, *(["-l"] if literal else []), *keys)


def _render(tmp_path: Path, text: str, stem: str) -> Path:
    out = tmp_path / f"{stem}.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(out), text], check=True)
    return out


def _play(wav: Path, server: str) -> subprocess.Popen:
    return subprocess.Popen(["paplay", "--device=vmic_feed", str(wav)],
                            env={**os.environ, "PULSE_SERVER": server})


def test_a_first_session_from_practice_to_export(vaudio, tmp_path, tmux_session):
    assert BIN.exists(), f"the console script is not installed beside {sys.executable}"
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing: the set-up command installs it")
    spoken, rapid = _render(tmp_path, SPOKEN, "spoken"), _render(tmp_path, RAPID, "rapid")
    config = tmp_path / "config"
    config.mkdir()
    # two practice questions and three rapid ones keep the walk short
    (config / "settings.json").write_text(json.dumps({"session_count": 2, "rapid_count": 3}))
    env = {
        "INTERVIEWER_DATA_DIR": tmp_path / "data",
        "INTERVIEWER_CONFIG_DIR": config,
        "INTERVIEWER_CACHE_DIR": os.environ["INTERVIEWER_CACHE_DIR"],
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PULSE_SERVER": vaudio,
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    done = tmp_path / "exit-status"
    _tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", tmux_session,
          f"env {exports} {BIN}; echo $? > {done}; sleep 30")
    name = tmux_session

    # 1. practice from the home screen: a spoken answer after a pause for thought
    _wait(name, "Seconds each")
    _wait(name, "ready", timeout=120)  # the speech parts are loaded
    _keys(name, "p")
    _wait(name, "Practice · question 1 of 2")
    _wait(name, "press space to answer", timeout=60)
    _keys(name, "Space")
    _wait(name, "listening")
    time.sleep(THINKING_S)
    player = _play(spoken, vaudio)
    player.wait(60)
    # the recorder ends the answer after 3 s of silence; the interviewer follows up
    followup = _wait(name, "Follow-up:", timeout=90)
    assert "follow-up 1" in followup, followup
    _wait(name, "answer the follow-up", timeout=60)  # the probe was spoken
    _keys(name, "s")  # skipped: costs nothing
    _wait(name, "/100", timeout=60)
    feedback = _scroll_to(name, "first word after")  # below the key points
    first = float(re.search(r"first word after (\d+\.\d) s", feedback).group(1))
    assert THINKING_S - 0.5 <= first <= THINKING_S + 2.0, feedback
    assert "Missed, in the reference" not in feedback
    _keys(name, "n")

    # the second question, typed
    _wait(name, "question 2 of 2")
    _wait(name, "press space to answer", timeout=60)
    _keys(name, "t")
    _wait(name, "typing")
    _keys(name, TYPED, literal=True)
    _keys(name, "C-s")
    _wait(name, "Follow-up:", timeout=60)
    _wait(name, "answer the follow-up", timeout=60)
    _keys(name, "t")  # typed too, this time
    _wait(name, "empty skips the follow-up")
    _keys(name, "C-s")  # an empty reply skips it
    _wait(name, "/100", timeout=60)
    _scroll_to(name, "Typed answer: no delivery measures")  # below the key points
    _keys(name, "n")
    summary = _wait(name, "Practice session: done")
    assert summary.count("graded") == 2, summary
    _keys(name, "Escape")

    # 2. a rapid-fire round from the home screen, ended in the middle of an answer
    _wait(name, "Seconds each")
    _keys(name, "f")
    _wait(name, "Rapid-fire · question 1 of 3")
    _wait(name, "listening", timeout=60)  # a round starts listening by itself
    player = _play(rapid, vaudio)
    time.sleep(4.0)
    _keys(name, "Escape")
    _wait(name, "End this session?")
    _keys(name, "y")
    round_summary = _wait(name, "Rapid-fire round: done", timeout=90)
    player.terminate()
    player.wait(10)
    assert "graded" in round_summary and "cannot" not in round_summary, round_summary
    _keys(name, "Escape")

    # 3. the review screen lists the three answers
    _wait(name, "Seconds each")
    _keys(name, "v")
    review = _wait(name, "3 of 3 attempts", timeout=30)
    _keys(name, "Escape")
    _wait(name, "Seconds each")
    _keys(name, "C-q")
    end = time.monotonic() + 30
    while not done.exists() and time.monotonic() < end:
        time.sleep(0.2)
    assert done.exists() and done.read_text().strip() == "0", review

    # the stored rows
    with sqlite3.connect(tmp_path / "data" / "attempts.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY id")]
        sessions = [dict(r) for r in conn.execute("SELECT * FROM sessions ORDER BY id")]
        followups = [dict(r) for r in conn.execute("SELECT * FROM followups ORDER BY id")]
    assert [r["state"] for r in rows] == ["graded"] * 3
    assert [bool(r["typed"]) for r in rows] == [False, True, False]
    assert all(r["transcript"] and r["score"] is not None for r in rows)
    assert [s["mode"] for s in sessions] == ["practice", "rapid"]
    # each practice answer's follow-up is stored, skipped at no cost; rapid rounds never follow up
    assert [(f["attempt_id"], f["position"], f["state"]) for f in followups] == [
        (rows[0]["id"], 1, "skipped"), (rows[1]["id"], 1, "skipped"),
    ]
    assert all(f["prompt"].endswith("?") and f["key_point_text"] for f in followups)
    assert [r["score"] for r in rows[:2]] == [r["unprompted_score"] for r in rows[:2]]
    assert all(s["ended_at"] for s in sessions)
    assert json.loads(sessions[1]["config"])["time_limit_s"] == 45.0  # rapid is rapid
    practice = json.loads(rows[0]["delivery"])
    assert practice["timing"] == "voice activity"
    assert THINKING_S - 0.5 <= practice["first_word_s"] <= THINKING_S + 2.0
    # espeak-ng at 150 words a minute: the 5 s before it is not slow speech
    assert 130 <= practice["wpm"] <= 200, practice
    assert practice["pace"] != "a little slow" and practice["pace"] != "too slow"
    print(f"practice answer: first word after {practice['first_word_s']} s, "
          f"{practice['wpm']} wpm over {practice['speaking_time_s']} s")
    cut = json.loads(rows[2]["delivery"] or "null")
    assert cut is not None and cut["words"] >= 5  # what was said before Esc is kept

    # export
    out = tmp_path / "export.json"
    result = subprocess.run(
        [str(BIN), "export", "--all", "--format", "json", "-o", str(out)],
        env={**os.environ, **{k: str(v) for k, v in env.items()}},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    exported = data.get("attempts", data) if isinstance(data, dict) else data
    assert sorted(r["id"] for r in exported) == [r["id"] for r in rows]
    by_id = {r["id"]: r for r in exported}
    assert [f["state"] for f in by_id[rows[0]["id"]]["followups"]] == ["skipped"]
