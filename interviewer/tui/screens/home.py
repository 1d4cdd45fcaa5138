"""Home: choose a mode, topics, count and time; see what is due and the streak."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
)

from interviewer.session.model import SessionConfig
from interviewer.tui import queries
from interviewer.tui.messages import LoadProgressed, ModelsLoaded
from interviewer.tui.screens.base import ReportsWorkerErrors

MODES = ("practice", "rapid", "due")


class HomeScreen(ReportsWorkerErrors, Screen[None]):
    """The first screen: pick a session and start it.

    The question count and the seconds per answer follow the chosen mode
    (rapid-fire: ``rapid_count`` and ``rapid_answer_s``; otherwise
    ``session_count`` and ``max_answer_s``) until the person types a value
    of their own, which is then kept whatever the mode."""

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("p", "start_mode('practice')", "Practice"),
        Binding("f", "start_mode('rapid')", "Rapid"),
        Binding("d", "start_mode('due')", "Due", show=False),
        Binding("v", "review", "Review"),
        Binding("x", "transcribe_recovered", "Transcribe interrupted", show=False),
        Binding("o", "settings", "Settings"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        bank = app.deps.bank
        settings = app.settings
        with Horizontal(id="home"):
            with Vertical(id="home-form"):
                yield Label(f"[b]{bank.title}[/b] ({len(bank)} questions)", id="bank-title")
                with RadioSet(id="mode"):
                    yield RadioButton("Practice", value=True, id="mode-practice")
                    yield RadioButton("Rapid-fire round", id="mode-rapid")
                    yield RadioButton("Review what is due", id="mode-due")
                yield Label("Topics (none ticked = all)")
                yield SelectionList[str](*[(t, t) for t in bank.topics], id="topics")
                with Horizontal(classes="row"):
                    yield Label("Questions", classes="field-short")
                    yield Input(str(settings.session_count), id="count", type="integer")
                    yield Label("Seconds each", classes="field-short")
                    yield Input(str(int(settings.max_answer_s)), id="seconds", type="number")
                yield Button("Start (s)", id="start", variant="primary", compact=True)
            with Vertical(id="home-side"):
                yield Static("", id="today")
                yield Static("", id="recovered")
                yield Static(app.ports_state.step, id="load-step")
                yield ProgressBar(total=1.0, show_eta=False, id="load-bar")
        yield Footer()

    def __init__(self) -> None:
        super().__init__()
        self._filled: dict[str, str] = {}
        """What the screen last wrote into each mode-dependent field."""

    def _mode_default(self, field: str, mode: str) -> str:
        settings = self.app.settings
        rapid = mode == "rapid"
        if field == "count":
            return str(settings.rapid_count if rapid else settings.session_count)
        return str(int(settings.rapid_answer_s if rapid else settings.max_answer_s))

    def _field(self, field: str, mode: str) -> str:
        """The field's value when the person typed one, else the mode's default."""
        value = self.query_one(f"#{field}", Input).value
        filled = self._filled.get(field, self._mode_default(field, "practice"))
        return self._mode_default(field, mode) if value == filled else value

    def on_mount(self) -> None:
        self._show_load(self.app.ports_state.step, self.app.ports_state.fraction)
        self.refresh_today()

    # -- what is due ---------------------------------------------------------
    @work(thread=True, exclusive=True, group="home-today", exit_on_error=False)
    def refresh_today(self) -> None:
        info = queries.today_info(self.app.deps.store, self.app.deps.bank, self.app.deps.today)
        self.app.call_from_thread(self._show_today, info)

    def _show_today(self, info: queries.TodayInfo) -> None:
        self.query_one("#today", Static).update(
            f"[b]Today[/b]\n{info.due} question(s) due\n"
            f"streak: {info.streak} day(s)\n{info.attempts_today} answer(s) today"
        )
        recovered = self.query_one("#recovered", Static)
        if info.interrupted:
            recovered.update(
                f"[b]{info.interrupted}[/b] interrupted answer(s) saved;\npress x to transcribe"
            )
        else:
            recovered.update("")

    # -- background load progress -----------------------------------------------
    def on_load_progressed(self, message: LoadProgressed) -> None:
        self._show_load(message.step, message.fraction)

    def on_models_loaded(self, message: ModelsLoaded) -> None:
        self._show_load(self.app.ports_state.step, self.app.ports_state.fraction)

    def _show_load(self, step: str, fraction: float) -> None:
        self.query_one("#load-step", Static).update(step)
        self.query_one("#load-bar", ProgressBar).update(progress=fraction)

    # -- actions -------------------------------------------------------------
    def _config(self, mode: str) -> SessionConfig:
        topics = tuple(self.query_one("#topics", SelectionList).selected)
        rapid = mode == "rapid"
        settings = self.app.settings
        count = _int(self._field("count", mode),
                     settings.rapid_count if rapid else settings.session_count)
        seconds = _float(self._field("seconds", mode), None)
        bank = self.app.deps.bank.name
        if rapid:
            return SessionConfig(
                mode="rapid",
                bank=bank,
                count=count,
                topics=topics,
                time_limit_s=seconds or settings.rapid_answer_s,
            )
        if mode == "due":  # only the questions the schedule says are due
            return SessionConfig(mode="review", bank=bank, count=count, topics=topics,
                                 order="due", time_limit_s=seconds)
        return SessionConfig(mode="practice", bank=bank, count=count, topics=topics,
                             time_limit_s=seconds)

    @on(RadioSet.Changed, "#mode")
    def _mode_changed(self, event: RadioSet.Changed) -> None:
        mode = MODES[max(event.index, 0)]
        for field in ("count", "seconds"):
            value = self._field(field, mode)
            if value == self._mode_default(field, mode):  # not the person's own
                self.query_one(f"#{field}", Input).value = value
                self._filled[field] = value

    @on(Button.Pressed, "#start")
    @on(Input.Submitted)
    def action_start(self) -> None:
        index = self.query_one("#mode", RadioSet).pressed_index
        self.action_start_mode(MODES[max(index, 0)])

    def action_start_mode(self, mode: str) -> None:
        self.app.open_session(self._config(mode))

    def action_review(self) -> None:
        self.app.open_review()

    def action_settings(self) -> None:
        from interviewer.tui.screens.settings import SettingsScreen

        self.app.push_screen(SettingsScreen())

    def action_transcribe_recovered(self) -> None:
        self.notify("Transcribing interrupted answers in the background…", timeout=3)
        self.transcribe_recovered()

    @work(thread=True, exclusive=True, group="home-recover", exit_on_error=False)
    def transcribe_recovered(self) -> None:
        app = self.app
        app.ports_state.ready.wait()
        engine = app.deps.engine_factory(SessionConfig(), app.ports_state.loaded.ports)
        done = queries.transcribe_interrupted(engine)
        app.call_from_thread(app.notify, f"{done} interrupted answer(s) transcribed and graded.")
        app.call_from_thread(self.refresh_today)

    def on_screen_resume(self) -> None:
        self.refresh_today()


def _int(text: str, default: int) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        return default


def _float(text: str, default: float | None) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return default
    return value if value > 0 else default
