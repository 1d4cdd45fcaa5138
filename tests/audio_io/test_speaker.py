"""Speaking questions through the real speech engine and the virtual card."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import wave

import pytest

from audio.clip import read_audio
from audio.errors import SpeechUnavailable
from audio.tts import Speaker, cache_key
from tests.audio_io import assert_heard_back, capture_speaker, similarity, windowed_similarity
from tests.conftest import REPO

QUESTION = "What problem does attention solve in a transformer model?"
LONG = (
    "Explain how low rank adaptation fine tunes a large language model, which matrices "
    "it trains, and why it needs so much less memory than full fine tuning."
)


def test_render_needs_no_sound_device_and_is_cached(tmp_path, capfd):
    speaker = Speaker(tmp_path / "speech", rate=170)
    path = speaker.render(QUESTION)
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1
        seconds = w.getnframes() / w.getframerate()
    assert 2.0 < seconds < 8.0
    assert path.name.startswith(cache_key(QUESTION, None, 170))
    mtime = path.stat().st_mtime_ns
    assert speaker.render(QUESTION) == path
    assert path.stat().st_mtime_ns == mtime  # served from the cache
    out, err = capfd.readouterr()
    assert "Audio saved" not in out


def test_rate_changes_the_length(tmp_path):
    slow = read_audio(Speaker(tmp_path, rate=120).render(LONG)).duration_s
    fast = read_audio(Speaker(tmp_path, rate=220).render(LONG)).duration_s
    assert fast < slow * 0.85  # espeak does not scale linearly, but clearly


def test_voices_are_listed_and_unknown_voice_is_one_line_error(tmp_path):
    speaker = Speaker(tmp_path)
    voices = speaker.list_voices()
    assert any("en" in v.id for v in voices)
    with pytest.raises(SpeechUnavailable, match="Unknown voice"):
        Speaker(tmp_path, voice="no/such-voice").render("hello there")
    # the engine still works after a bad request
    assert Speaker(tmp_path, rate=150).render("hello again").exists()


def test_empty_text_is_refused(tmp_path):
    with pytest.raises(SpeechUnavailable):
        Speaker(tmp_path).render("   ")


@pytest.mark.audio
@pytest.mark.e2e
def test_spoken_question_reaches_the_speaker(vaudio, tmp_path):
    speaker = Speaker(tmp_path, rate=170)
    rendered = read_audio(speaker.render(QUESTION))
    with capture_speaker() as got:
        started = time.monotonic()
        speaker.speak(QUESTION)
        took = time.monotonic() - started
    capture = got[0]
    assert took >= rendered.duration_s * 0.9  # speak() blocks until it has been read
    score = windowed_similarity(rendered.samples, capture.samples)
    whole = similarity(rendered.samples, capture.samples)
    assert score >= 0.8, f"capture differs from the rendered speech (ncc {score:.2f}, whole {whole:.2f})"


@pytest.mark.audio
@pytest.mark.e2e
@pytest.mark.slow
def test_spoken_question_transcribes_back(vaudio, tmp_path, transcriber):
    speaker = Speaker(tmp_path, rate=160)
    with capture_speaker() as got:
        speaker.speak(QUESTION)
    assert_heard_back(transcriber, got[0], QUESTION)


@pytest.mark.audio
@pytest.mark.e2e
def test_cancel_cuts_speech_short(vaudio, tmp_path):
    speaker = Speaker(tmp_path, rate=170)
    speaker.render(LONG)  # rendering is not what is timed
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    speaker.speak(LONG, cancel)
    returned = time.monotonic()
    timer.join()
    assert returned - started < 3.0  # the whole question is ~9 s
    set_at = started + 1.0
    assert returned - set_at < 0.3, f"returned {returned - set_at:.3f} s after cancel"


@pytest.mark.audio
@pytest.mark.e2e
def test_no_output_device_is_speech_unavailable(vaudio, tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from audio.tts import Speaker\n"
        "from audio.errors import SpeechUnavailable\n"
        "try:\n"
        f"    Speaker(Path({str(tmp_path)!r})).speak('hello there')\n"
        "except SpeechUnavailable as exc:\n"
        "    print('UNAVAILABLE', exc); sys.exit(3)\n"
    )
    env = dict(os.environ, PULSE_SERVER=f"unix:{tmp_path}/no-server")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = proc.stdout.strip()
    assert "\n" not in line and "the question is shown instead" in line
    assert "Traceback" not in proc.stderr
