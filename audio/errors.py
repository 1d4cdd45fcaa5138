"""The audio layer's own exceptions: each message is one actionable line."""


class AudioError(Exception):
    """Base class of audio failures that the app reports in one line."""


class NoPortAudio(AudioError):
    """The PortAudio library is missing."""


class NoMicrophone(AudioError):
    """There is no usable input device."""


class DeviceLost(AudioError):
    """The input device went away mid-answer; the audio so far is kept."""


class SpeechUnavailable(AudioError):
    """No speech engine (espeak-ng) or no output device: show the question instead."""


class ModelUnavailable(AudioError):
    """A speech-recognition model cannot be loaded (offline, missing, corrupt)."""
