"""What the app is built from: plain values handed in by the composition root."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interviewer.config import Settings
from interviewer.session.model import SessionConfig

if TYPE_CHECKING:
    # types only: the engine and the store load on first use, after the first frame
    from interviewer.session.engine import SessionEngine
    from interviewer.session.ports import Ports
    from interviewer.session.store import Store
    from questions.model import Bank

ProgressFn = Callable[[str, float], None]
"""``progress(step, fraction)`` reported while the speech parts load."""


@dataclass(frozen=True)
class LoadedPorts:
    """The engine's ports, and a one-line notice per part that is unavailable."""

    ports: Ports | None
    """None: no speech parts at all (typed answers still work)."""
    notices: tuple[str, ...] = ()


class PortsLoader:
    """Wraps a slow function that builds the ports (models, devices); the app
    runs it on a background thread at start so the first frame never waits."""

    def __init__(
        self,
        load: Callable[[ProgressFn], LoadedPorts],
        warm_up: Callable[[ProgressFn], tuple[str, ...]] | None = None,
    ) -> None:
        self._load = load
        self.warm_up = warm_up
        """Optional slow preparation run after the ports are handed to the
        screens (e.g. the grader's embedding model); returns notices."""

    def __call__(self, progress: ProgressFn) -> LoadedPorts:
        return self._load(progress)


@dataclass(frozen=True)
class StartRequest:
    """Which screen opens first, and with what session."""

    mode: str | None = None
    """None: the home screen; "practice", "rapid": a session at once; "review"."""
    config: SessionConfig | None = None
    typed: bool = False
    """Answers are typed (no microphone at all)."""


@dataclass
class PortsState:
    """The loaded ports, shared by the screens (set once by the loader)."""

    ready: threading.Event = field(default_factory=threading.Event)
    loaded: LoadedPorts | None = None
    step: str = "loading speech parts"
    fraction: float = 0.0

    def set(self, loaded: LoadedPorts) -> None:
        self.loaded = loaded
        self.fraction = 1.0
        self.step = "ready"
        self.ready.set()


@dataclass(frozen=True)
class AppDeps:
    """Everything the screens need, handed in through the app's constructor."""

    settings: Settings
    engine_factory: Callable[[SessionConfig, Ports | None], SessionEngine]
    """Builds the engine of one session over the loaded ports."""
    store: Store
    bank: Bank
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], str] | None = None
    """Returns today's date as YYYY-MM-DD (fixed in snapshot tests)."""
