"""One interactive trainer per data folder, and a clean end on Ctrl-C.

Headless commands (``score``, ``export``, scripted sessions) may run side by
side: the store is SQLite in WAL mode and loses nothing. The interactive app
holds the microphone and shows "interrupted answers" of its own data folder,
so a second copy would fight over both; it takes ``InstanceLock`` first and a
second copy stops with one line naming the first one's pid.

The lock is an ``flock`` on ``<data dir>/trainer.lock`` holding the owner's
pid. The kernel drops the lock when its process dies (even by SIGKILL), so a
lock file left behind by a crash is recognised as stale and taken over.

Usage in the interactive entry point::

    with InstanceLock():                     # AnotherInstance -> one line, exit 2
        with termination_as_interrupt():     # SIGTERM / SIGHUP -> KeyboardInterrupt
            try:
                app.run()
            except KeyboardInterrupt:
                print(keep_answer(engine), file=sys.stderr)
                return 130
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from interviewer.session.engine import SessionEngine

LOCK_NAME = "trainer.lock"
INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells expect."""


class AnotherInstance(Exception):
    """Another interactive trainer is using the same data folder."""


def lock_path(data_dir: Path | None = None) -> Path:
    from interviewer import paths

    return (data_dir or paths.data_dir()) / LOCK_NAME


def read_owner(path: Path) -> int | None:
    """The pid written in a lock file, or None when unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


class InstanceLock:
    """Exclusive ownership of a data folder by one interactive trainer.

    ``acquire()`` raises ``AnotherInstance`` (one line) when a live process
    holds it; a lock left by a dead process is taken over silently.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.path = lock_path(data_dir)
        self._fd: int | None = None
        self.took_over_from: int | None = None
        """Pid of the dead process whose stale lock file was found, if any."""

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> InstanceLock:
        import fcntl

        from interviewer import paths

        if self._fd is not None:
            return self
        try:
            paths.private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AnotherInstance(
                f"cannot create the lock file {self.path} ({exc.strerror}); "
                "check the data folder's permissions"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise AnotherInstance(f"cannot lock {self.path} ({exc.strerror})") from None
            owner = read_owner(self.path)
            who = f" (pid {owner})" if owner else ""
            raise AnotherInstance(
                f"another trainer is already running{who} with this data folder; "
                "close it first, or use --data-dir for a separate one"
            ) from None
        previous = read_owner(self.path)
        if previous is not None and previous != os.getpid():
            self.took_over_from = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if read_owner(self.path) == os.getpid():
                self.path.unlink()
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def termination_as_interrupt(signals: tuple[int, ...] | None = None) -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP (terminal closed) behave like
    Ctrl-C: a ``KeyboardInterrupt`` in the main thread, so the same clean-up
    runs. Only in the main thread; elsewhere a no-op."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    chosen = signals if signals is not None else (signal.SIGTERM, signal.SIGHUP)
    previous = {}
    for sig in chosen:
        with contextlib.suppress(OSError, ValueError):
            previous[sig] = signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, handler)


def exit_after_interrupt(code: int = INTERRUPTED_EXIT) -> NoReturn:
    """Leave at once after an interrupt, once the answer is saved and the store
    closed. A background thread may still be inside native code (a whisper
    decode in torch); letting the interpreter finalise around it makes the C++
    runtime abort the process ("terminate called without an active
    exception"), so skip finalisation instead."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def keep_answer(engine: SessionEngine | None) -> str:
    """After an interrupt: make sure an answer being recorded is saved (its
    WAV complete, attempt "recorded", offered for recovery next time) and
    return the one line to show (``engine``: the session on screen, if any).
    Never raises."""
    from interviewer.session.model import Phase

    attempt = engine.attempt if engine is not None else None
    try:
        if engine is not None and engine.phase == Phase.LISTENING:
            engine.stop_answer()
    except Exception:  # the audio on disk is still readable; recovery repairs the rest
        pass
    if attempt is not None and attempt.state in ("recording", "recorded", "transcribed"):
        return (
            "interviewer: interrupted; your answer so far is saved and will be offered "
            "for transcription next time"
        )
    return "interviewer: interrupted"


__all__ = [
    "INTERRUPTED_EXIT",
    "AnotherInstance",
    "InstanceLock",
    "exit_after_interrupt",
    "keep_answer",
    "lock_path",
    "pid_alive",
    "read_owner",
    "termination_as_interrupt",
]
