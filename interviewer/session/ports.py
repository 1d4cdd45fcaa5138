"""What the session engine needs from the outside world, as small Protocols.

The composition root (``interviewer.cli``) picks real implementations from
``audio`` and ``questions``, or fakes in unit tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from audio.clip import AudioClip
from audio.results import Recording, Transcript
from questions.assessment import Assessment
from questions.model import Question


class Speaker(Protocol):
    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        """Read ``text`` aloud and return when done or cancelled.
        Raises ``audio.errors.SpeechUnavailable`` when there is no speech engine
        or no output device."""


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


class StreamingRecorder(Recorder, Protocol):
    """A recorder that also hands every block of 16 kHz mono float32 samples
    to ``feed`` while recording (on its own thread; a slow or failing feed
    must not disturb the recording). The engine sets ``feed`` before
    ``start`` and clears it after ``stop``, to transcribe while the person is
    still speaking. Recorders without the attribute are used as plain
    ``Recorder`` s (the answer is transcribed after it ends)."""

    feed: Callable[[Any], None] | None


class Transcriber(Protocol):
    def transcribe(self, clip: AudioClip, hint: str = "") -> Transcript: ...


Grader = Callable[[Question, str], Assessment]
