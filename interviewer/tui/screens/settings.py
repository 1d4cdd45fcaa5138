"""Settings: devices, voice, rate, recogniser, silence timeout, answer limit,
follow-up questions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Select

from interviewer.config import SPEECH_ENGINES, Settings
from interviewer.tui.screens.base import ReportsWorkerErrors

MODELS = ("tiny.en", "base.en", "small.en")
ENGINES = ("openai-whisper", "faster-whisper")
VOICE_LABELS = {"pyttsx3": "pyttsx3 (system voice)", "piper": "Piper (natural voice)"}
FOLLOWUP_LABELS = {0: "none", 1: "1 per question", 2: "up to 2 per question"}
BEAMS = ((5, "5 beams (accurate)"), (3, "3 beams"), (2, "2 beams"), (1, "greedy (fastest)"))


class SettingsScreen(ReportsWorkerErrors, Screen[None]):
    """ctrl+s saves the settings file; escape leaves without saving."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
    ]

    def compose(self) -> ComposeResult:
        s: Settings = self.app.settings
        with VerticalScroll(id="settings"):
            yield Label("[b]Settings[/b] (ctrl+s saves)")
            yield from self._row("Input device", Input(s.input_device or "", id="input_device",
                                                       placeholder="system default"))
            yield from self._row("Output device", Input(s.output_device or "", id="output_device",
                                                        placeholder="system default"))
            yield from self._row(
                "Speech engine",
                Select([(VOICE_LABELS.get(e, e), e) for e in _with(SPEECH_ENGINES, s.speech_engine)],
                       value=s.speech_engine, allow_blank=False, id="speech_engine"),
            )
            yield from self._row("Voice", Input(s.voice or "", id="voice",
                                                placeholder="engine default"))
            yield from self._row("Rate (words/min)", Input(str(s.rate), id="rate", type="integer"))
            yield from self._row(
                "Whisper model",
                Select([(m, m) for m in _with(MODELS, s.whisper_model)], value=s.whisper_model,
                       allow_blank=False, id="whisper_model"),
            )
            yield from self._row(
                "Recogniser",
                Select([(e, e) for e in _with(ENGINES, s.engine)], value=s.engine,
                       allow_blank=False, id="engine"),
            )
            yield from self._row(
                "Recognition search",
                Select([(label, n) for n, label in _beams(s.beam_size)], value=s.beam_size,
                       allow_blank=False, id="beam_size"),
            )
            yield from self._row("Silence timeout (s)",
                                 Input(str(s.silence_timeout_s), id="silence_timeout_s",
                                       type="number"))
            yield from self._row("Answer limit (s)",
                                 Input(str(s.max_answer_s), id="max_answer_s", type="number"))
            yield from self._row(
                "Follow-up questions",
                Select([(FOLLOWUP_LABELS[n], n) for n in (0, 1, 2)],
                       value=s.followups if s.followups in (0, 1, 2) else 1,
                       allow_blank=False, id="followups"),
            )
            yield from self._row("Follow-up credit (%)",
                                 Input(f"{s.followup_share * 100:g}", id="followup_share",
                                       type="number"))
        yield Footer()

    @staticmethod
    def _row(label: str, widget) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(label, classes="field")
            yield widget

    def collect(self) -> Settings:
        """The settings as edited (invalid numbers keep their old value)."""
        s: Settings = self.app.settings

        def text(name: str) -> str | None:
            value = self.query_one(f"#{name}", Input).value.strip()
            return value or None

        def number(name: str, old: float) -> float:
            try:
                value = float(self.query_one(f"#{name}", Input).value)
            except ValueError:
                return old
            return value if value > 0 else old

        return s.updated(
            input_device=text("input_device"),
            output_device=text("output_device"),
            voice=text("voice"),
            rate=int(number("rate", s.rate)),
            whisper_model=str(self.query_one("#whisper_model", Select).value),
            engine=str(self.query_one("#engine", Select).value),
            beam_size=int(self.query_one("#beam_size", Select).value),
            silence_timeout_s=number("silence_timeout_s", s.silence_timeout_s),
            max_answer_s=number("max_answer_s", s.max_answer_s),
            speech_engine=str(self.query_one("#speech_engine", Select).value),
            followups=int(self.query_one("#followups", Select).value),
            followup_share=_share(self.query_one("#followup_share", Input).value,
                                  s.followup_share),
        )

    def action_save(self) -> None:
        self.app.save_user_settings(self.collect())
        self.dismiss(None)

    def action_back(self) -> None:
        self.dismiss(None)


def _with(options: tuple[str, ...], current: str) -> tuple[str, ...]:
    return options if current in options else (*options, current)


def _beams(current: int) -> tuple[tuple[int, str], ...]:
    known = {n for n, _ in BEAMS}
    return BEAMS if current in known else (*BEAMS, (current, f"{current} beams"))


def _share(text: str, old: float) -> float:
    """A percentage typed by the user as a share 0-1 (invalid keeps the old)."""
    try:
        value = float(text)
    except ValueError:
        return old
    return value / 100 if 0 <= value <= 100 else old
