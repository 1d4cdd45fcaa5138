"""Plain results of the audio stages (no heavy imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

StopReason = Literal["user", "silence", "limit", "device_lost", "cancelled"]


@dataclass(frozen=True)
class Segment:
    start: float
    """Seconds from the start of the clip."""
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...] = ()
    duration_s: float = 0.0
    """Length of the audio that was transcribed."""
    engine: str = ""
    model: str = ""
    elapsed_s: float = 0.0
    """Wall time the transcription took."""
    rejected: tuple[str, ...] = ()
    """Segments dropped as hallucinations (e.g. on silence)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recording:
    path: Path
    duration_s: float
    speech_detected: bool
    stopped_by: StopReason = "user"
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    pauses: tuple[tuple[float, float], ...] = ()
    """(start, end) of silences inside the speech, in seconds."""
    error: str | None = None
    """A one-line message when recording ended abnormally (audio so far is kept)."""
    extra: dict[str, Any] = field(default_factory=dict)
