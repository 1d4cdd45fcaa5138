"""The answer's text with the evidence of each key point highlighted."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

from questions.assessment import Assessment


def evidence_spans(assessment: Assessment | None) -> list[tuple[int, int, str]]:
    """(start, end, style) of every piece of evidence in the answer."""
    if assessment is None:
        return []
    spans: list[tuple[int, int, str]] = []
    for k in assessment.key_points:
        if k.evidence is not None and k.status != "missed":
            style = "bold black on green" if k.covered else "black on yellow"
            spans.append((k.evidence.start, k.evidence.end, style))
    for m in assessment.misconceptions:
        spans.append((m.evidence.start, m.evidence.end, "bold white on red"))
    return spans


def highlighted(text: str, spans: Iterable[tuple[int, int, str]]) -> Text:
    out = Text(text)
    for start, end, style in spans:
        start, end = max(0, start), min(len(text), end)
        if end > start:
            out.stylize(style, start, end)
    return out


class TranscriptView(Static):
    """Shows the transcript as it arrives, then with its evidence marked."""

    DEFAULT_CSS = """
    TranscriptView { height: auto; padding: 0 1; }
    """

    def show(self, text: str, assessment: Assessment | None = None) -> None:
        if not text.strip():
            self.update(Text("(no speech was recognised)", style="italic dim"))
            return
        self.update(highlighted(text, evidence_spans(assessment)))
