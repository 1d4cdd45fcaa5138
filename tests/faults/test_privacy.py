"""Case 7: nothing leaves the machine and user data is private. Scoring and
a full spoken session run with networking made unavailable two ways: a
network namespace with no interfaces (``unshare -n``), and a sitecustomize
that makes every Internet connection attempt fail and logs it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.faults.conftest import (
    DRIVERS,
    JFK,
    QUESTION,
    Driver,
    fail_or_skip,
    sitecustomize,
)
from tests.faults.helpers import trimmed_jfk

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NO_NETWORK = """
import os, socket, traceback

_LOG = os.environ["NET_ATTEMPTS_LOG"]

def _note(kind, target):
    with open(_LOG, "a") as f:
        f.write(f"{kind} {target!r}\\n")

def _inet(sock):
    return getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6)

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

def connect(self, address):
    if _inet(self):
        _note("connect", address)
        raise OSError(101, "network is unreachable (blocked by the privacy test)")
    return _connect(self, address)

def connect_ex(self, address):
    if _inet(self):
        _note("connect_ex", address)
        return 101
    return _connect_ex(self, address)

def create_connection(address, *a, **k):
    _note("create_connection", address)
    raise OSError(101, "network is unreachable (blocked by the privacy test)")

def getaddrinfo(host, *a, **k):
    _note("getaddrinfo", host)
    raise socket.gaierror(-3, "name resolution blocked by the privacy test")

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.create_connection = create_connection
socket.getaddrinfo = getaddrinfo
"""


def _score_and_session(prefix, env, card, bank_file, tmp_path):
    """``interviewer score --json`` and one spoken question, both under ``prefix``."""
    r = subprocess.run(
        [*prefix, sys.executable, "-m", "interviewer", "score", str(JFK), "--bank", str(bank_file),
         "--question", QUESTION, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "fellow americans" in out["transcript"].lower()
    if prefix:  # run the driver itself inside the same sandbox
        d = _PrefixedDriver(prefix, card.env(env), bank_file)
    else:
        d = Driver("session_driver.py", ["--bank", str(bank_file), "--question", QUESTION,
                                         "--silence", "1.0"], card.env(env))
    d.wait_for("PHASE recording", timeout=240)
    card.feed(trimmed_jfk(tmp_path, 3.5))
    code, text, err = d.finish(timeout=120)
    assert code == 0, err
    assert "Traceback" not in err
    res = json.loads([ln for ln in text.splitlines() if ln.startswith("RESULT ")][-1][7:])
    assert res["state"] == "graded" and "americans" in res["transcript"].lower(), res
    return res


class _PrefixedDriver(Driver):
    def __init__(self, prefix, env, bank_file):  # noqa: D107 - same as Driver, run under prefix
        import queue
        import threading

        self.proc = subprocess.Popen(
            [*prefix, sys.executable, str(DRIVERS / "session_driver.py"), "--bank", str(bank_file),
             "--question", QUESTION, "--silence", "1.0"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines = []
        self._queue = queue.Queue()
        self._stderr = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()


def test_works_with_connections_refused_and_none_attempted(fault_card, sub_env, bank_file, tmp_path):
    log = tmp_path / "net-attempts.log"
    log.write_text("")
    env = dict(sub_env, NET_ATTEMPTS_LOG=str(log))
    site = sitecustomize(tmp_path / "site", NO_NETWORK)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    # the hook itself works (a test that cannot fail proves nothing)
    probe = subprocess.run(
        [sys.executable, "-c", "import socket\ntry:\n socket.create_connection(('pypi.org', 443))\n"
         "except OSError: print('blocked')"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip() == "blocked" and "pypi.org" in log.read_text()
    log.write_text("")
    _score_and_session([], env, fault_card, bank_file, tmp_path)
    assert log.read_text() == "", f"network connections were attempted:\n{log.read_text()}"


def test_works_in_a_network_namespace_without_interfaces(fault_card, sub_env, bank_file, tmp_path):
    unshare = shutil.which("unshare")
    usable = unshare is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    if usable:
        check = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=30)
        usable = check.returncode == 0
    if not usable:
        if os.environ.get("CI"):
            fail_or_skip("unshare -n is unavailable (needs root and network namespaces)")
        pytest.skip("unshare -n is unavailable (needs root)")
    links = subprocess.run([unshare, "-n", "cat", "/proc/net/dev"], capture_output=True, text=True)
    assert [ln for ln in links.stdout.splitlines()[2:] if not ln.strip().startswith("lo:")] == []
    _score_and_session([unshare, "-n"], sub_env, fault_card, bank_file, tmp_path)


def test_user_data_is_private_after_session_and_export(fault_card, sub_env, bank_file, tmp_path, drivers):
    env = dict(sub_env)
    d = Driver("session_driver.py", ["--bank", str(bank_file), "--question", QUESTION, "--no-speak",
                                     "--silence", "1.0"], fault_card.env(env))
    drivers.append(d)
    d.wait_for("PHASE recording", timeout=240)
    fault_card.feed(trimmed_jfk(tmp_path, 3.5))
    code, _out, err = d.finish(timeout=120)
    assert code == 0, err
    exp = subprocess.run([sys.executable, "-m", "interviewer", "export", "--all", "--bank", str(bank_file),
                          "--format", "json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert exp.returncode == 0, exp.stderr
    exported = exp.stdout.strip().splitlines()[-1]
    from interviewer.config import Settings, save_settings

    settings_file = save_settings(Settings(rate=150))
    data = tmp_path / "data"
    files = [p for p in data.rglob("*") if p.is_file()] + [settings_file]
    assert any(p.suffix == ".wav" for p in files) and any(p.name == "attempts.sqlite3" for p in files)
    assert os.path.realpath(exported) in {os.path.realpath(p) for p in files}
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}, loose
    for folder in [data, *(p for p in data.rglob("*") if p.is_dir()), settings_file.parent]:
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder
