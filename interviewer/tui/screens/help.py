"""Every key of every screen, opened with ? or F1."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def _screens() -> list[tuple[str, type]]:
    from interviewer.tui.screens.compare import CompareScreen
    from interviewer.tui.screens.detail import AttemptDetailScreen
    from interviewer.tui.screens.feedback import FeedbackScreen
    from interviewer.tui.screens.home import HomeScreen
    from interviewer.tui.screens.interview import InterviewScreen
    from interviewer.tui.screens.review import ReviewScreen
    from interviewer.tui.screens.settings import SettingsScreen
    from interviewer.tui.screens.summary import SummaryScreen

    return [
        ("Home", HomeScreen),
        ("Interview", InterviewScreen),
        ("Feedback", FeedbackScreen),
        ("Round summary", SummaryScreen),
        ("Review", ReviewScreen),
        ("Attempt", AttemptDetailScreen),
        ("Compare attempts", CompareScreen),
        ("Settings", SettingsScreen),
    ]


NOTES = {
    "Interview": "Space while a question or follow-up is read stops the voice and "
                 "records at once. A follow-up takes the same keys: space answers it, t "
                 "types the reply, s (or an empty typed reply) skips it at no cost.",
}
"""A line under a screen's keys, for what the keys alone do not say."""


def _key_name(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return " / ".join(k.strip().replace("question_mark", "?") for k in binding.key.split(","))


def help_text(current: str = "", global_bindings: Sequence[Binding | tuple] = ()) -> Text:
    """A table of keys, the current screen first; ``global_bindings`` are
    the app's own (listed under "Everywhere")."""
    out = Text()
    screens = sorted(_screens(), key=lambda s: s[1].__name__ != current)
    for title, cls in screens:
        out.append(f"{title}\n", style="bold underline")
        for b in cls.BINDINGS:
            if isinstance(b, Binding):
                out.append(f"  {_key_name(b):<14}", style="bold cyan")
                out.append(f"{b.description}\n")
        if title in NOTES:
            out.append(f"  {NOTES[title]}\n", style="dim")
        out.append("\n")
    out.append("Everywhere\n", style="bold underline")
    for b in global_bindings:
        if not isinstance(b, Binding):
            continue
        out.append(f"  {_key_name(b):<14}", style="bold cyan")
        out.append(f"{b.description}\n")
    out.append(f"  {'escape':<14}", style="bold cyan")
    out.append("Close a dialog or go back\n")
    return out


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of escape, q, ? closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss_help", "Close", key_display="esc"),
    ]

    def __init__(self, current: str = "", global_bindings: Sequence[Binding | tuple] = ()) -> None:
        super().__init__()
        self.current = current
        """The class name of the screen the help was opened on (listed first)."""
        self.global_bindings = tuple(global_bindings)
        """The app's own keys, which work on every screen."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("Keys", style="bold"), id="help-title")
            yield Static(help_text(self.current, self.global_bindings), id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
