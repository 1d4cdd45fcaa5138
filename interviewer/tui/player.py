"""Replay of a saved answer: sounddevice is imported only when playing."""

from __future__ import annotations

import threading
from pathlib import Path


class PlaybackError(Exception):
    """Playback is impossible; the message is one line for the user."""


def play(path: str | Path, cancel: threading.Event, device: str | None = None) -> None:
    """Play a WAV file to the end or until ``cancel`` is set."""
    from audio.clip import AudioFileError, read_audio

    try:
        clip = read_audio(path)
    except AudioFileError as exc:
        raise PlaybackError(str(exc)) from None
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        raise PlaybackError("cannot play audio: PortAudio is missing (libportaudio2)") from None
    try:
        sd.play(clip.samples, clip.sample_rate, device=device)
    except Exception as exc:  # PortAudioError and friends
        raise PlaybackError(f"cannot play audio: no output device ({exc})") from None
    try:
        stream = sd.get_stream()
        while stream.active and not cancel.wait(0.1):
            pass
    finally:
        sd.stop()
