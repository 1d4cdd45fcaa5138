"""A single background worker that runs jobs one at a time, in order.

The session engine uses it to transcribe and grade rapid-fire answers while
the next question is asked: one thread, so the recogniser never runs two
transcriptions at once and results arrive in the order the answers were
given. Never imports the UI.

    queue = BackgroundQueue(work, on_done=callback)
    queue.submit(job)          # returns at once
    queue.pending()            # jobs submitted without a result yet
    queue.results()            # finished results, in submission order
    queue.drain(timeout)       # True when everything submitted is finished
    queue.close()              # stop after the current job; returns the jobs never started
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class BackgroundQueue(Generic[J, R]):
    """Runs ``work(job)`` for each submitted job on one daemon thread.

    ``work`` should turn its own failures into a result; an exception that
    escapes it is kept (``errors()``) and the queue carries on with the next
    job. ``on_done(result)`` runs on the worker thread once the result is
    kept (``pending()`` no longer counts it) and before ``drain`` returns;
    its exceptions are ignored.
    """

    def __init__(
        self,
        work: Callable[[J], R],
        on_done: Callable[[R], None] | None = None,
        *,
        name: str = "background-queue",
    ) -> None:
        self._work = work
        self.on_done = on_done
        self._name = name
        self._jobs: deque[J] = deque()
        self._results: list[R] = []
        self._errors: list[BaseException] = []
        self._running = 0
        self._waiting = 0
        """Jobs queued or running whose result is not kept yet."""
        self._closed = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def submit(self, job: J) -> None:
        """Queue ``job``; the worker starts on first use."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the background queue is closed")
            self._jobs.append(job)
            self._waiting += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        """Jobs submitted whose result is not kept yet (queued or running)."""
        with self._cond:
            return self._waiting

    def results(self) -> list[R]:
        """Finished results, in the order the jobs were submitted."""
        with self._cond:
            return list(self._results)

    def errors(self) -> list[BaseException]:
        with self._cond:
            return list(self._errors)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job is finished (or ``timeout``
        seconds passed); True when nothing is pending."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._running, timeout)

    def close(self) -> list[J]:
        """Accept no more jobs; the worker stops after the job it is running.
        Returns the jobs that were never started."""
        with self._cond:
            self._closed = True
            dropped = list(self._jobs)
            self._jobs.clear()
            self._waiting -= len(dropped)
            self._cond.notify_all()
            return dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._jobs or self._closed)
                if not self._jobs:
                    return  # closed and empty
                job = self._jobs.popleft()
                self._running = 1
            result: R | None = None
            failed = False
            try:
                result = self._work(job)
            except Exception as exc:  # keep going: one bad job must not stop the rest
                failed = True
                with self._cond:
                    self._errors.append(exc)
            with self._cond:
                if not failed:
                    self._results.append(result)  # type: ignore[arg-type]
                self._waiting -= 1
            if not failed and self.on_done is not None:
                try:
                    self.on_done(result)  # type: ignore[arg-type]
                except Exception:
                    pass  # a listener's failure never stops the grading
            with self._cond:
                self._running = 0
                self._cond.notify_all()


__all__ = ["BackgroundQueue"]
