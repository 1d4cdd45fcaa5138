"""What the session engine needs from the outside world, as small Protocols,
and ``Ports``, the bundle of them one session is given.

The composition root (``interviewer.compose``) picks real implementations from
``audio`` and ``questions``, or fakes in unit tests. The recogniser's
interface is declared once, by ``audio.transcriber``, and used as is here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from audio.results import Recording
from audio.transcriber import Transcriber
from questions.assessment import Assessment
from questions.model import Question


class Speaker(Protocol):
    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        """Read ``text`` aloud and return when done or cancelled.
        Raises ``audio.errors.SpeechUnavailable`` when there is no speech engine
        or no output device."""

    def prepare(self, text: str) -> None:
        """Render ``text`` in the background, ahead of a later ``speak`` of it
        (the next question while the person answers), so that it then starts
        at once. Returns immediately and never raises; asking again for the
        same text does nothing more."""


class Recorder(Protocol):
    def start(self, wav_path: Path, on_level: Callable[[float], None] | None = None) -> None:
        """Start recording into ``wav_path`` (written while recording).
        Raises ``audio.errors.NoMicrophone`` when there is no input."""

    def stop(self) -> Recording:
        """Stop (if not already stopped by silence or the limit) and return the
        recording; the WAV file is complete when this returns."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until recording ended by itself (silence, limit, device lost)
        or ``timeout``; True when it ended."""


@runtime_checkable
class StreamingRecorder(Recorder, Protocol):
    """A recorder that also hands every block of 16 kHz mono float32 samples
    to ``feed`` while recording (on its own thread; a slow or failing feed
    must not disturb the recording). The engine sets ``feed`` before
    ``start`` and clears it after ``stop``, to transcribe while the person is
    still speaking. Recorders without the attribute are used as plain
    ``Recorder`` s (the answer is transcribed after it ends)."""

    feed: Callable[[np.ndarray], None] | None


Grader = Callable[[Question, str], Assessment]
"""``grader(question, answer_text) -> Assessment``; by default
``questions.grade_question``."""


@dataclass(frozen=True)
class Ports:
    """The outside world the engine drives; ``None`` means not available
    (no speech, no microphone, no recogniser) and the engine degrades."""

    speaker: Speaker | None = None
    recorder: Recorder | None = None
    transcriber: Transcriber | None = None
    grader: Grader | None = None
    """Defaults to ``questions.grade_question``."""


__all__ = ["Grader", "Ports", "Recorder", "Speaker", "StreamingRecorder", "Transcriber"]
