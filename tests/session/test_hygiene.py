"""The session modules and their commands import nothing heavy (models,
sound, UI, nor genanki/fsrs) until used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = {"torch", "whisper", "faster_whisper", "sounddevice", "pyttsx3", "sentence_transformers",
         "transformers", "textual", "genanki", "fsrs"}


@pytest.mark.parametrize(
    "module",
    [
        "interviewer.session",
        "interviewer.session.engine",
        "interviewer.session.store",
        "interviewer.session.selection",
        "interviewer.session.scheduler",
        "interviewer.session.export",
        "interviewer.session.recovery",
        "interviewer.commands.export",
        "interviewer.commands.data",
    ],
)
def test_import_is_light(module):
    code = f"import {module}, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    top = {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}
    assert not top & HEAVY, sorted(top & HEAVY)
