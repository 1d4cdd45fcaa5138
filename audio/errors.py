"""The audio layer's own exceptions: each message is one actionable line.

`one_line` lives here because this is the lowest module every layer may
import: the app, the question bank and the audio code all report a failure
in one line of text.
"""

ONE_LINE_MAX_CHARS = 200
"""Longer first lines (a library pasting a whole path list, say) are cut here."""


def one_line(exc: BaseException) -> str:
    """The first non-empty line of `exc`'s message, or its type name if it has none."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            if len(line) > ONE_LINE_MAX_CHARS:
                return line[: ONE_LINE_MAX_CHARS - 1] + "…"
            return line
    return type(exc).__name__


class AudioError(Exception):
    """Base class of audio failures that the app reports in one line."""


class NoPortAudio(AudioError):
    """The PortAudio library is missing."""


class NoMicrophone(AudioError):
    """There is no usable input device."""


class SpeechUnavailable(AudioError):
    """No speech engine (espeak-ng) or no output device: show the question instead."""


class ModelUnavailable(AudioError):
    """A speech-recognition model cannot be loaded (offline, missing, corrupt)."""
