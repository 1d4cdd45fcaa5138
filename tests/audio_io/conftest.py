"""The virtual sound card for the real-audio tests.

``vaudio`` starts ``tests/vaudio/up.sh`` once per test session (a PulseAudio
daemon with a virtual speaker and microphone), exports PULSE_SERVER and makes
PortAudio re-read its device list. Where that cannot work (not root, PulseAudio
missing) the tests are skipped, except under CI (env ``CI`` set), where they
fail: CI must never skip the real audio tests silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

VAUDIO = REPO / "tests" / "vaudio"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"virtual sound card unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"virtual sound card unavailable: {reason}")


@pytest.fixture(scope="session")
def vaudio(tmp_path_factory) -> Iterator[str]:
    """PULSE_SERVER of a running virtual sound card (default sink ``vspeaker``,
    default source ``vmic`` fed by the sink ``vmic_feed``)."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        _unavailable("the PulseAudio test daemon runs as root in the test container")
    missing = [b for b in ("pulseaudio", "pactl", "paplay", "parec") if not shutil.which(b)]
    if missing:
        _unavailable(
            f"missing {', '.join(missing)}; install: apt-get install -y "
            "--no-install-recommends $(grep -v '^#' tests/vaudio/apt-packages.txt)"
        )
    env = dict(os.environ)
    env.setdefault("VAUDIO_DIR", "/tmp/interviewer-vaudio")
    up = subprocess.run(
        ["bash", str(VAUDIO / "up.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    if up.returncode != 0:
        _unavailable(f"up.sh failed ({up.returncode}): {up.stderr.strip()[-500:]}")
    started_here = "already up" not in up.stdout
    server = f"unix:{Path(env['VAUDIO_DIR']) / 'native'}"
    previous = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server
    try:
        import sounddevice as sd
    except OSError as exc:
        _unavailable(f"PortAudio missing ({exc})")
    sd._terminate()
    sd._initialize()
    if sd.default.device[0] < 0:
        _unavailable("PortAudio sees no input device through the virtual card")
    yield server
    if previous is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = previous
    if started_here:
        subprocess.run(["bash", str(VAUDIO / "down.sh")], env=env, capture_output=True, timeout=30)
    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="session")
def transcriber(model_cache_dir):
    """The app's real offline transcriber (tiny.en), loaded once per session."""
    transcriber_module = pytest.importorskip("audio.transcriber")
    t = transcriber_module.make_transcriber("openai-whisper", threads=1, cache_dir=model_cache_dir)
    t.load()
    return t
