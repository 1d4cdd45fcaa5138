"""The real-audio fixtures are shared with the audio tests."""

from tests.audio_io.conftest import transcriber, vaudio  # noqa: F401
