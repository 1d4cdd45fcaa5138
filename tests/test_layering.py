"""Import hygiene: the headless layers never pull in the UI, and nothing heavy
is loaded just to print help or to import a module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ["torch", "whisper", "faster_whisper", "sounddevice", "pyttsx3", "sentence_transformers", "transformers"]


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


HEADLESS = [
    "questions",
    "questions.model",
    "questions.assessment",
    "questions.bank",
    "questions.matcher",
    "audio.clip",
    "audio.results",
    "audio.transcriber",
    "audio.weights",
    "audio.tts",
    "audio.recorder",
    "audio.delivery",
    "audio.vad",
    "audio.incremental",
    "audio.devices",
    "interviewer.session.background",
    "interviewer.session.recovery",
    "interviewer.session.export",
    "interviewer.instance",
    "interviewer.commands.practice",
    "interviewer.commands.score",
    "interviewer.commands.doctor",
    "interviewer.session.engine",
    "interviewer.session.store",
    "interviewer.cli",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_imports_nothing_heavy_or_ui(module):
    mods = _modules_after(f"import {module}")
    top = _top(mods)
    assert "textual" not in top, f"{module} imports textual"
    loaded = sorted(top & set(HEAVY))
    assert not loaded, f"{module} imports {loaded} at import time"
    if module.startswith(("questions", "audio")):
        assert "interviewer" not in top, f"{module} imports the app package"


def test_help_is_light():
    mods = _top(_modules_after(
        "import sys\nsys.argv=['interviewer','--help']\nfrom interviewer.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    ))
    assert not (mods & set(HEAVY + ["textual"])), sorted(mods & set(HEAVY + ["textual"]))


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
