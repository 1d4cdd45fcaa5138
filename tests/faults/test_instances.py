"""Case 6: two trainers at once. Headless processes share one database
and lose nothing (SQLite WAL); a second interactive trainer on the same data
folder stops with one line naming the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.faults.conftest import DRIVERS, Driver

N = 40


def test_concurrent_headless_writers_lose_nothing(sub_env):
    from interviewer.session.store import Store

    Store().close()  # created once (see test_first_open_race_between_processes)
    procs = [
        subprocess.Popen(
            [sys.executable, str(DRIVERS / "writer.py"), tag, str(N)],
            cwd=REPO, env=sub_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for tag in ("a", "b", "c")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    from interviewer.session.store import Store

    with Store() as store:
        rows = store.attempts()
        assert len(rows) == 3 * N
        assert {r.question_id for r in rows} == {f"{t}-{i}" for t in "abc" for i in range(N)}
        assert all(r.state == "graded" and r.score is not None for r in rows)
        assert len(store.sessions()) == 3
    claimed = [int(x) for out, _ in outs for x in out.split()[-1].split(",")]
    assert sorted(claimed) == sorted(r.id for r in rows)


def test_first_open_race_between_processes(sub_env, drivers):
    """Two processes open a database that does not exist yet: the second must
    wait for the first one's schema, not create it again."""
    import sqlite3

    from interviewer import paths
    from interviewer.session.store import MIGRATIONS, SCHEMA_VERSION, _statements

    db = paths.database_path()
    paths.private_dir(db.parent)
    first = sqlite3.connect(db, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")  # the first process is creating the schema
    second = Driver("writer.py", ["b", "3", "--announce-version-read"], sub_env)
    drivers.append(second)
    second.wait_for("PHASE version-read", timeout=60)  # it read version 0, now it waits
    for number in range(1, SCHEMA_VERSION + 1):
        for statement in _statements(MIGRATIONS[number - 1]):
            first.execute(statement)
    first.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    first.execute("COMMIT")
    first.close()
    code, out, err = second.finish(timeout=60)
    assert code == 0, err
    assert out.splitlines()[-1].startswith("DONE ")


def test_second_interactive_instance_says_one_line(sub_env, drivers):
    from interviewer.instance import AnotherInstance, InstanceLock, lock_path

    first = Driver("hold_lock.py", ["60"], sub_env)
    drivers.append(first)
    first.wait_for("PHASE locked", timeout=60)
    # in this process (same data folder)
    with pytest.raises(AnotherInstance) as info:
        InstanceLock().acquire()
    msg = str(info.value)
    assert "\n" not in msg and f"pid {first.proc.pid}" in msg and "another trainer" in msg
    # and as a second program
    second = subprocess.run(
        [sys.executable, str(DRIVERS / "hold_lock.py"), "0"],
        cwd=REPO, env=sub_env, capture_output=True, text=True, timeout=60,
    )
    assert second.returncode == 2
    assert second.stderr.strip().count("\n") == 0 and "another trainer" in second.stderr
    assert "Traceback" not in second.stderr
    # the first one dies hard: its lock file stays, but is recognised as stale
    first.signal(signal.SIGKILL)
    first.finish(timeout=10)
    assert lock_path().exists()
    lock = InstanceLock().acquire()
    try:
        assert lock.took_over_from == first.proc.pid
        assert lock_path().read_text().strip() == str(os.getpid())
        assert oct(lock_path().stat().st_mode & 0o777) == oct(0o600)
    finally:
        lock.release()
    assert not lock_path().exists()


def test_lock_is_reentrant_per_object_and_released(tmp_path):
    from interviewer.instance import InstanceLock, pid_alive, read_owner

    with InstanceLock(tmp_path) as lock:
        assert lock.held and lock.acquire() is lock
        assert read_owner(lock.path) == os.getpid()
    assert not lock.held
    with InstanceLock(tmp_path) as again:
        assert again.took_over_from is None
    assert pid_alive(os.getpid()) and not pid_alive(0)
    (tmp_path / "trainer.lock").write_text("garbage")
    with InstanceLock(tmp_path) as junk:
        assert junk.took_over_from is None and read_owner(junk.path) == os.getpid()


def test_termination_signal_becomes_interrupt():
    from interviewer.instance import termination_as_interrupt

    with pytest.raises(KeyboardInterrupt), termination_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
