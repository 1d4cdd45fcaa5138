"""Fixtures of the fault, recovery and privacy suite.

Everything that involves signals, a broken environment or the real audio
path runs in a subprocess (``python -m interviewer ...`` or a driver script
from ``drivers/``) with its own data folder, so a crash there can never
touch the test process.

``fault_card`` starts this suite's own instance of the virtual sound card
(``tests/vaudio/up.sh`` with a private ``VAUDIO_DIR``) so that stopping its
server mid-test cannot disturb other suites. Under CI (env ``CI`` set) a card
that cannot start FAILS the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_DATA, fail_or_skip

VAUDIO = REPO / "tests" / "vaudio"
DRIVERS = Path(__file__).resolve().parent / "drivers"
JFK = TEST_DATA / "jfk.flac"

BANK_TOML = '''
[bank]
name = "faults"
title = "Questions for the fault tests"
version = 1

[[question]]
id = "civic-duty"
seed = 1
prompt = "What did the famous inaugural address ask citizens to do for their country?"
spoken = "What did the inaugural address ask of citizens?"
topics = ["history"]
difficulty = 1
terms = ["country", "citizens"]
reference = """
The address told citizens not to ask what their country could do for them but
to ask what they could do for their country. It framed civic duty as service:
each citizen should give something to the nation rather than only expect
benefits from it. The speaker addressed his fellow Americans directly and
called on them to act together for the common good of the country.
"""

  [[question.key_point]]
  text = "Ask what you can do for your country."
  phrasings = ["what you can do for your country", "do for your country"]

  [[question.key_point]]
  text = "Do not ask what your country can do for you."
  phrasings = ["ask not what your country can do for you", "not what your country can do"]

  [[question.key_point]]
  text = "It was addressed to fellow Americans."
  phrasings = ["fellow Americans", "my fellow Americans"]

[[question]]
id = "short-one"
seed = 2
prompt = "Name one duty of a citizen."
topics = ["history"]
difficulty = 1
reference = """
A citizen has duties as well as rights: to vote in elections, to obey the law,
to pay taxes, to serve on a jury when called and to help the community. Good
citizenship means giving time and effort to the country and to neighbours,
not only expecting the state to provide for everyone. Many would add staying
informed about public affairs and defending the country when it is needed.
"""

  [[question.key_point]]
  text = "Voting in elections."
  phrasings = ["vote"]

  [[question.key_point]]
  text = "Obeying the law and paying taxes."
  phrasings = ["obey the law", "pay taxes"]

  [[question.key_point]]
  text = "Serving the country or community."
  phrasings = ["serve", "do for your country"]
'''

QUESTION = "civic-duty"


@pytest.fixture(scope="session")
def bank_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("bank") / "faults.toml"
    p.write_text(BANK_TOML, encoding="utf-8")
    return p


@pytest.fixture()
def sub_env(tmp_path, model_cache_dir) -> dict[str, str]:
    """Environment of a child process: its own data/config folders, the shared
    model cache, nothing downloaded, the repo importable."""
    env = dict(os.environ)
    env.update(
        INTERVIEWER_DATA_DIR=str(tmp_path / "data"),
        INTERVIEWER_CONFIG_DIR=str(tmp_path / "config"),
        INTERVIEWER_CACHE_DIR=str(model_cache_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "interviewer", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status non-zero, no traceback, a short message naming ``needles``."""
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, f"no message on stderr (stdout: {r.stdout!r})"
    text = " ".join(lines).lower()
    for n in needles:
        assert n.lower() in text, r.stderr
    return r.stderr


def sitecustomize(folder: Path, code: str) -> Path:
    """A ``sitecustomize.py`` in ``folder`` (put it first on PYTHONPATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(code, encoding="utf-8")
    return folder


# --- the virtual sound card ---------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A running instance of the virtual sound card."""

    dir: Path
    server: str

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env["PULSE_SERVER"] = self.server
        env["VAUDIO_DIR"] = str(self.dir)
        return env

    def feed(self, path: Path) -> subprocess.Popen:
        """Play ``path`` into the virtual microphone (returns at once). Every
        feed is stopped when the test ends (see ``drivers``), so the rest of a
        clip cut short by a kill never plays into the next test's answer."""
        env = dict(os.environ, PULSE_SERVER=self.server)
        proc = subprocess.Popen(
            ["paplay", "--device=vmic_feed", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        FEEDS.append(proc)
        return proc

    def pid(self) -> int | None:
        try:
            return int((self.dir / "daemon.pid").read_text().strip())
        except (OSError, ValueError):
            return None


def start_card(folder: Path) -> Card:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        fail_or_skip("the virtual sound card's PulseAudio daemon runs as root in the test container")
    missing = [b for b in ("pulseaudio", "pactl", "paplay") if not shutil.which(b)]
    if missing:
        fail_or_skip(f"virtual sound card unavailable: missing {', '.join(missing)}")
    env = dict(os.environ, VAUDIO_DIR=str(folder))
    env.pop("PULSE_SERVER", None)
    up = subprocess.run(
        ["bash", str(VAUDIO / "up.sh")], env=env, capture_output=True, text=True, timeout=90
    )
    if up.returncode != 0:
        fail_or_skip(f"virtual sound card did not start ({up.returncode}): {up.stderr.strip()[-400:]}")
    return Card(folder, f"unix:{folder / 'native'}")


def stop_card(card: Card) -> None:
    env = dict(os.environ, VAUDIO_DIR=str(card.dir))
    subprocess.run(["bash", str(VAUDIO / "down.sh")], env=env, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def fault_card() -> Iterator[Card]:
    """This suite's own virtual sound card, for the whole session."""
    card = start_card(Path(f"/tmp/interviewer-vaudio-faults-{os.getpid()}"))
    yield card
    stop_card(card)


# --- driver subprocesses ----------------------------------------------------------------


class Driver:
    """A driver script running in a child process; its marker lines
    (``PHASE <name>``) are read by a thread as they come."""

    def __init__(self, script: str, args: list[str], env: dict[str, str]) -> None:
        import queue
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVERS / script), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def wait_for(self, marker: str, timeout: float = 120) -> float:
        """Block until the child prints ``marker``; returns the monotonic time."""
        import queue

        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.01, left)) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                break
            self.lines.append(line)
            if line.strip() == marker:
                return time.monotonic()
        self.kill()
        raise AssertionError(
            f"driver never printed {marker!r}; stdout={self.lines} stderr={''.join(self._stderr)[-2000:]}"
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the exit; (status, all stdout, all stderr)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"driver did not exit within {timeout} s; stderr={''.join(self._stderr)[-2000:]}"
            ) from None
        while True:
            line = self._queue.get(timeout=10)
            if line is None:
                break
            self.lines.append(line)
        time.sleep(0.05)
        return self.proc.returncode, "\n".join(self.lines), "".join(self._stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture()
def drivers() -> Iterator[list[Driver]]:
    """Driver processes started by a test; killed if the test leaves them
    running, together with anything still playing into the microphone."""
    started: list[Driver] = []
    yield started
    for d in started:
        d.kill()
    stop_feeds()


FEEDS: list[subprocess.Popen] = []
"""Clips being played into a virtual microphone by the current test."""


def stop_feeds() -> None:
    while FEEDS:
        proc = FEEDS.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
    time.sleep(0.3)  # let the sink's last buffered block drain


@pytest.fixture(autouse=True)
def _no_leftover_feeds() -> Iterator[None]:
    """Whatever a test fed into a microphone stops with the test."""
    yield
    stop_feeds()
