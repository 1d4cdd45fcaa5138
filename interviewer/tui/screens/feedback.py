"""Feedback on one answer: score, key points with evidence, delivery, reference.

Each key point is listed once: covered ones with the words that covered
them, missed ones marked ✘ in the reference's words. After follow-ups, a
point given only after the interviewer's prompt is marked ↪ with the probe
and what it added, and the score is the combined one (the answer's own
score beside it). ``r`` reads the reference answer aloud and ``m`` just the
key points missed; either key again (or leaving) stops the voice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from interviewer.tui.messages import AnswerScored, Regraded
from interviewer.tui.screens.base import ReportsWorkerErrors
from interviewer.tui.widgets.key_points import KeyPointList
from interviewer.tui.widgets.transcript import TranscriptView

if TYPE_CHECKING:
    from interviewer.session.followup import QuestionGrade
    from questions.assessment import Assessment
    from questions.model import Question


def filler_note() -> str:
    """The delivery module's caveat about filler counts."""
    from audio.delivery import FILLER_RECALL_NOTE

    return FILLER_RECALL_NOTE


def delivery_text(delivery: dict | None, typed: bool) -> Text:
    """Pace, fillers and long pauses of a spoken answer, with the filler caveat."""
    out = Text()
    if typed:
        out.append("Typed answer: no delivery measures.", style="dim")
        return out
    if not delivery:
        out.append("No delivery measures for this answer.", style="dim")
        return out
    # the figures the notes below do not already state (they give pace,
    # fillers and long pauses with advice): nothing is said twice
    notes = [str(n) for n in delivery.get("notes") or ()]

    def noted(word: str) -> bool:
        return any(word in n.lower() for n in notes)

    parts = []
    wpm = delivery.get("wpm")
    if wpm is not None and not noted("pace"):
        pace = f" ({delivery['pace']})" if delivery.get("pace") else ""
        parts.append(f"pace {round(float(wpm))} words/min{pace}")
    spoken = delivery.get("speaking_time_s")
    if spoken is not None:
        parts.append(f"speaking {float(spoken):.1f} s")
    first = delivery.get("first_word_s")
    if first is not None:  # its own figure; a note adds advice past 5 s
        parts.append(f"first word after {float(first):.1f} s")
    fillers = delivery.get("fillers") or ()
    count = delivery.get("filler_count")
    if count is None:
        count = sum(int(n) for _, n in fillers)
    if not noted("filler"):
        words = ", ".join(f"{w} ×{n}" for w, n in fillers)
        parts.append(f"fillers {count}" + (f" ({words})" if words else ""))
    pauses = delivery.get("long_pauses")
    if pauses is not None and not noted(" or more (longest"):
        parts.append(f"long pauses {len(pauses)}")
    out.append(" · ".join(parts))
    for note in notes:
        out.append(f"\n{note}")
    caveat = filler_note()
    if caveat:
        out.append(f"\n{caveat}", style="dim italic")
    return out


def score_line(assessment: Assessment) -> Text:
    percent = assessment.percent
    if percent is None:
        return Text("No speech was recognised: nothing to grade (e edits the transcript).",
                    style="bold yellow")
    colour = "green" if percent >= 70 else "yellow" if percent >= 40 else "red"
    out = Text()
    out.append(f"{percent}", style=f"bold {colour}")
    out.append("/100")
    covered = len(assessment.covered)
    out.append(f"  ·  {covered} of {len(assessment.key_points)} key points covered")
    if assessment.too_short:
        out.append("  ·  too short", style="yellow")
    if assessment.off_topic:
        out.append("  ·  off topic", style="yellow")
    return out


def grade_line(grade: QuestionGrade) -> Text:
    """The combined score of a question with follow-ups, the answer's own
    score, and how many points came unprompted and after a prompt."""
    percent = grade.percent
    if percent is None:
        return score_line(grade.assessment)
    colour = "green" if percent >= 70 else "yellow" if percent >= 40 else "red"
    out = Text()
    out.append(f"{percent}", style=f"bold {colour}")
    out.append("/100")
    out.append(f" ({grade.unprompted_percent} unprompted)", style="dim")
    total = len(grade.points)
    out.append(f"  ·  {grade.count('unprompted')} of {total} key points unprompted")
    prompted = grade.count("prompted")
    if prompted:
        out.append(f", {prompted} after a prompt")
    return out


class FeedbackScreen(ReportsWorkerErrors, Screen[str]):
    """Dismissed with "next", "retry" or "end"."""

    BINDINGS = [
        Binding("n", "choose('next')", "Next"),
        Binding("a", "choose('retry')", "Retry"),
        Binding("e", "edit", "Edit transcript"),
        Binding("r", "read('reference')", "Read the reference answer aloud", show=False),
        Binding("m", "read('missed')", "Read the missed key points aloud", show=False),
        Binding("escape", "choose('end')", "End session"),
    ]

    def __init__(
        self,
        question: Question,
        scored: AnswerScored,
        regrade: Callable[[str], tuple[Assessment, QuestionGrade | None]] | None = None,
        say: Callable[[str, threading.Event], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.scored = scored
        self.answer = scored.answer
        self.assessment = scored.assessment
        self.grade = scored.grade
        """The question's grade with its follow-ups, when there were any."""
        self._regrade = regrade
        self._say = say
        """Reads a text aloud until done or cancelled (None, or a notice why not)."""
        self._cancel_reading = threading.Event()
        self._voice = threading.Lock()
        """One reading at a time: a new one waits for the cut-off one to return."""
        self.reading: str | None = None
        """What is being read aloud ("reference" or "missed"), or None."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="fb-top"):
            yield Label("", id="fb-score")
        with VerticalScroll(id="fb-body"):
            yield Static(f"[b]{self.question.prompt}[/b]", id="fb-question")
            yield Label("Your answer", classes="section")
            yield TranscriptView("", id="fb-transcript")
            yield Label("Key points  [dim](m reads the missed ones aloud)[/dim]", classes="section")
            yield KeyPointList("", id="fb-points")
            yield Label("Delivery", classes="section")
            yield Static(delivery_text(self.scored.delivery, self.scored.typed), id="fb-delivery")
            yield Label("Reference answer  [dim](r reads it aloud)[/dim]", classes="section")
            yield Static(self.question.reference.strip(), id="fb-reference")
        yield Footer()

    def on_mount(self) -> None:
        self._refresh_view()

    def _refresh_view(self) -> None:
        grade = self.grade
        line = score_line(self.assessment) if grade is None else grade_line(grade)
        self.query_one("#fb-score", Label).update(line)
        self.query_one("#fb-transcript", TranscriptView).show(self.answer, self.assessment)
        self.query_one("#fb-points", KeyPointList).show(self.assessment if grade is None else grade)

    def action_choose(self, choice: str) -> None:
        self._cancel_reading.set()
        self.dismiss(choice)

    def on_unmount(self) -> None:
        self._cancel_reading.set()

    def action_read(self, what: str) -> None:
        """Read the reference answer or the missed key points aloud; the
        same key again stops the voice, the other switches to it."""
        if self._say is None:
            self.notify("Nothing can be read aloud here.", timeout=3)
            return
        if self.reading is not None:
            self._cancel_reading.set()  # the worker ends at once
            if self.reading == what:
                return
        if what == "reference":
            text = self.question.reference.strip()
        else:
            from interviewer.session.followup import missed_points

            missed = missed_points(self.question, self.assessment, self.grade)
            if not missed:
                self.notify("No key point was missed.", timeout=3)
                return
            text = "Key points missed: " + " ".join(
                p if p.rstrip().endswith((".", "?", "!")) else p.rstrip() + "." for p in missed
            )
        self._cancel_reading = threading.Event()
        self.reading = what
        self.read_aloud(text, what, self._cancel_reading)

    @work(thread=True, group="fb-read", exit_on_error=False)
    def read_aloud(self, text: str, what: str, cancel: threading.Event) -> None:
        assert self._say is not None
        with self._voice:
            notice = None if cancel.is_set() else self._say(text, cancel)
        self.app.call_from_thread(self._read_done, what, cancel, notice)

    def _read_done(self, what: str, cancel: threading.Event, notice: str | None) -> None:
        if cancel is self._cancel_reading:
            self.reading = None
        if notice:
            self.notify(notice, severity="warning", timeout=5)

    def action_edit(self) -> None:
        if self._regrade is None:
            self.notify("This answer cannot be re-graded here.", timeout=3)
            return
        from interviewer.tui.screens.dialogs import EditTextDialog

        def done(text: str | None) -> None:
            if text is not None and text.strip():
                self.notify("Re-grading the corrected transcript…", timeout=2)
                self.regrade(text)

        self.app.push_screen(EditTextDialog("Correct the transcript", self.answer), done)

    @work(thread=True, exclusive=True, group="fb-regrade", exit_on_error=False)
    def regrade(self, text: str) -> None:
        assert self._regrade is not None
        assessment, grade = self._regrade(text)
        self.post_message(Regraded(text, assessment, grade))

    def on_regraded(self, message: Regraded) -> None:
        self.answer, self.assessment, self.grade = message.answer, message.assessment, message.grade
        self._refresh_view()
