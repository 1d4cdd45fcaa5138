"""The application shell: bindings, stylesheet, first screen, global actions.

Phase logic and workers live on the screens that own them; this class only
loads the speech parts in the background and turns worker failures into one
line for the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from audio.errors import one_line
from interviewer.config import Settings, save_settings
from interviewer.session.model import SessionConfig
from interviewer.tui.deps import AppDeps, LoadedPorts, PortsLoader, PortsState, StartRequest
from interviewer.tui.messages import LoadProgressed, ModelsLoaded

if TYPE_CHECKING:
    from interviewer.session.engine import SessionEngine
    from interviewer.session.ports import Ports
    from interviewer.session.store import Store
    from questions.model import Bank


class InterviewerApp(App[int]):
    """The spoken interview trainer."""

    CSS_PATH = "app.tcss"
    TITLE = "Interview trainer"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        deps: AppDeps,
        ports: Ports | LoadedPorts | PortsLoader | None,
        start: StartRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deps = deps
        self.settings: Settings = deps.settings
        self.start = start or StartRequest()
        self.ports_state = PortsState()
        self._loader: PortsLoader | None = None
        if isinstance(ports, PortsLoader):
            self._loader = ports
        else:
            self.ports_state.set(ports if isinstance(ports, LoadedPorts) else LoadedPorts(ports))

    # -- start -----------------------------------------------------------
    def on_mount(self) -> None:
        if self._loader is not None:
            # after the first frame: the heavy imports must not delay it
            self.call_after_refresh(self.load_ports)
        from interviewer.tui.screens.home import HomeScreen

        self.push_screen(HomeScreen())
        mode = self.start.mode
        if mode in ("practice", "rapid"):
            self.open_session(self.start.config or SessionConfig(mode=mode))
        elif mode == "review":
            self.open_review()

    def open_session(self, config: SessionConfig) -> None:
        from interviewer.tui.screens.interview import InterviewScreen

        self.push_screen(InterviewScreen(config, typed=self.start.typed))

    def open_review(self) -> None:
        from interviewer.tui.screens.review import ReviewScreen

        self.push_screen(ReviewScreen())

    @work(thread=True, exclusive=True, group="load-ports", exit_on_error=False)
    def load_ports(self) -> None:
        """Build the real speaker, recorder and transcriber off the UI thread."""
        assert self._loader is not None

        def progress(step: str, fraction: float) -> None:
            self.ports_state.step, self.ports_state.fraction = step, fraction
            self.post_message(LoadProgressed(step, fraction))

        try:
            loaded = self._loader(progress)
        except Exception as exc:  # a broken part must never stop typed answers
            loaded = LoadedPorts(None, (f"speech parts unavailable: {one_line(exc)}",))
        self.ports_state.set(loaded)
        self.post_message(ModelsLoaded(loaded.notices))
        if self._loader.warm_up is not None:
            try:
                notices = self._loader.warm_up(progress)
            except Exception as exc:
                notices = (one_line(exc),)
            self.ports_state.step = "ready"
            self.post_message(ModelsLoaded(tuple(notices)))

    def on_load_progressed(self, message: LoadProgressed) -> None:
        for screen in self.screen_stack:
            screen.post_message(LoadProgressed(message.step, message.fraction))

    def on_models_loaded(self, message: ModelsLoaded) -> None:
        for notice in message.notices:
            self.notify(notice, severity="warning", timeout=8)
        for screen in self.screen_stack:
            screen.post_message(ModelsLoaded(message.notices))

    # -- global actions ----------------------------------------------------
    def action_help(self) -> None:
        from interviewer.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(type(self.screen).__name__, self.BINDINGS))

    def save_user_settings(self, settings: Settings) -> None:
        self.settings = settings
        save_settings(settings)
        self.notify("Settings saved.", timeout=3)

    def current_engine(self) -> SessionEngine | None:
        """The engine of the session on screen, if any (to keep an answer on Ctrl-C)."""
        from interviewer.tui.screens.interview import InterviewScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, InterviewScreen) and screen.engine is not None:
                return screen.engine
        return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_worker_error(event.worker)

    def report_worker_error(self, worker: Worker) -> None:
        """Any worker that fails becomes one line for the user, never a traceback."""
        if worker.error is not None:
            self.notify(one_line(worker.error), title="Error", severity="error", timeout=10)


def make_app(
    settings: Settings,
    engine_factory: Callable[[SessionConfig, Ports | None], SessionEngine],
    ports: Ports | LoadedPorts | PortsLoader | None,
    store: Store,
    bank: Bank,
    *,
    start: StartRequest | None = None,
    clock: Callable[[], float] = time.monotonic,
    today: Callable[[], str] | None = None,
) -> InterviewerApp:
    """Build the app. ``ports`` is the engine's ports, or a ``PortsLoader`` run
    in the background at start; ``engine_factory(config, ports)`` builds a
    ``SessionEngine``; ``clock`` and ``today`` are fixed in tests."""
    deps = AppDeps(settings, engine_factory, store, bank, clock, today)
    return InterviewerApp(deps, ports, start)

