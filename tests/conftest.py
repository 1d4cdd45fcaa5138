"""Shared fixtures: every test runs against its own data and config folders,
so a developer's own attempts and settings never decide a test. The model
cache is shared by the whole run (the converted whisper checkpoint is built
once), and so is one loaded tiny.en per engine (``whisper_tiny``,
``faster_tiny``): loading it is the slow part, and a loaded transcriber keeps
no state between calls.

The real-audio fixtures live here too: ``vaudio`` starts ``tests/vaudio/up.sh``
once per test session (a PulseAudio daemon with a virtual speaker and
microphone), exports PULSE_SERVER and makes PortAudio re-read its device
list. Whatever such a test needs and cannot find (the sound card, espeak-ng)
skips it locally and fails it under CI (env ``CI`` set): CI must never skip
the real-audio tests silently.

Run in parallel (pytest-xdist, as the test command does), every worker is
its own session: it loads its own tiny.en and grader, and it gets its own
virtual sound card (the first worker the one in ``VAUDIO_DIR``, the others
``VAUDIO_DIR-gwN``), so a test capturing the speaker never hears another
worker's audio. The test command hands out whole files (``--dist loadfile``),
so a module's expensive fixture is still built once, and keeps the order
``pytest_collection_modifyitems`` gives them (``--no-loadscope-reorder``):
the longest files first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from audio.transcriber import FasterWhisperTranscriber, WhisperTranscriber

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
"""Development material kept beside the checkout (graded answers); optional."""
VAUDIO = REPO / "tests" / "vaudio"
ENGINES = ("openai-whisper", "faster-whisper")
TINY = {"openai-whisper": "whisper_tiny", "faster-whisper": "faster_tiny"}
"""The session fixture holding each engine's loaded tiny.en."""


LONG_FILES = (
    "tests/e2e/test_walkthrough.py",
    "tests/e2e/test_speech_path.py",
    "tests/audio_io/test_recorder.py",
    "tests/faults/test_signals.py",
    "tests/e2e/test_spoken_turn.py",
)
"""The files that take longest (each 45 s or more), longest first: started
first on parallel workers, so no worker is left alone with one of them at
the end. Only the order changes; a name not found is ignored."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On parallel workers, run whole files longest first: the files in
    ``LONG_FILES``, then the other files with end-to-end tests, then the rest,
    each file's tests in their own order. Every worker sorts the same way, so
    they agree on the collection."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    e2e_files = {file_of(i) for i in items if i.get_closest_marker("e2e")}
    first_seen: dict[str, int] = {}
    for i in items:
        first_seen.setdefault(file_of(i), len(first_seen))

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = file_of(item)
        if name in LONG_FILES:
            return LONG_FILES.index(name), 0
        return len(LONG_FILES) + (name not in e2e_files), first_seen[name]

    items.sort(key=rank)


def under_ci() -> bool:
    """True when env ``CI`` is set to anything but an empty string, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def fail_or_skip(reason: str) -> None:
    """Skip locally, fail under CI: CI must never skip a test silently."""
    if under_ci():
        pytest.fail(f"{reason} (under CI this is a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def tmux_session():
    """The name of a tmux session for one test, killed afterwards (tmux is
    required under CI; the set-up command installs it)."""
    if shutil.which("tmux") is None:
        fail_or_skip("tmux is not installed: apt-get install -y tmux")
    name = f"trainer-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def needs_espeak() -> None:
    """Tests that synthesise speech need espeak-ng (the set-up command installs it)."""
    if shutil.which("espeak-ng") is None:
        fail_or_skip("espeak-ng is not installed: apt-get install -y espeak-ng")


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory) -> Path:
    env = os.environ.get("INTERVIEWER_TEST_CACHE_DIR")
    if env:
        p = Path(env)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch, model_cache_dir):
    from interviewer import paths

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTERVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("INTERVIEWER_CACHE_DIR", str(model_cache_dir))
    paths.set_data_dir(None)
    yield
    paths.set_data_dir(None)


# --- the bundled model, loaded once per engine -----------------------------------------


@pytest.fixture(scope="session")
def whisper_tiny(model_cache_dir) -> WhisperTranscriber:
    """openai-whisper tiny.en with the app's defaults (beam search, one thread)."""
    from audio.transcriber import WhisperTranscriber

    transcriber = WhisperTranscriber(threads=1, cache_dir=model_cache_dir)
    transcriber.load()
    return transcriber


@pytest.fixture(scope="session")
def faster_tiny() -> FasterWhisperTranscriber:
    """faster-whisper on the same bundled tiny.en weights."""
    from audio.transcriber import FasterWhisperTranscriber

    transcriber = FasterWhisperTranscriber(threads=1)
    transcriber.load()
    return transcriber


@pytest.fixture(scope="session")
def transcriber(whisper_tiny) -> WhisperTranscriber:
    """The app's real offline transcriber (the default engine's tiny.en)."""
    return whisper_tiny


# --- the virtual sound card ------------------------------------------------------------


def _unavailable(reason: str) -> None:
    fail_or_skip(f"virtual sound card unavailable: {reason}")


def vaudio_dir() -> str:
    """This process's virtual sound card folder: ``VAUDIO_DIR`` (default
    ``/tmp/interviewer-vaudio``), or beside it for a parallel worker past the
    first, which gets a card of its own."""
    base = os.environ.get("VAUDIO_DIR") or "/tmp/interviewer-vaudio"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base if worker == "gw0" else f"{base}-{worker}"


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
    env = dict(os.environ, VAUDIO_DIR=vaudio_dir())
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
