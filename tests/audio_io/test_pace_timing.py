"""Thinking time is not speaking time: the pace of one answer is the same
whatever the silence before it or a long pause inside it, and the silence
before it is reported as the time to the first word.

Real speech (``tests/data/jfk.flac``, 11 s, 22 words; and an espeak-ng
answer at 150 words per minute), padded with digital silence and timed by
the voice activity detector, as the recorder times a live answer."""

from __future__ import annotations

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, AudioClip, read_audio
from audio.delivery import assess_delivery
from audio.energy import quietest_point
from audio.vad import speech_segments
from tests.conftest import TEST_DATA

JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
LEADS = (0.0, 3.0, 10.0)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def variants(samples: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """The answer after 0, 3 and 10 s of silence, and with a 4 s pause cut
    in at its quietest point near the middle: name -> (lead-in, samples)."""
    out = {f"lead {lead:g} s": (lead, np.concatenate([_silence(lead), samples])) for lead in LEADS}
    half = len(samples) / SAMPLE_RATE / 2
    cut = quietest_point(samples, SAMPLE_RATE, half - 1.0, half + 1.0)
    out["pause 4 s"] = (0.0, np.concatenate([samples[:cut], _silence(4.0), samples[cut:]]))
    return out


def paces(samples: np.ndarray, text_of) -> dict[str, tuple[float, float | None, float | None]]:
    """name -> (lead-in, pace, time to first word)."""
    out = {}
    for name, (lead, audio) in variants(samples).items():
        d = assess_delivery(text_of(audio), speech=speech_segments(audio),
                            duration_s=len(audio) / SAMPLE_RATE)
        out[name] = (lead, d.wpm, d.first_word_s)
    return out


def assert_same_pace(measured, first_word_at: float) -> None:
    base = measured["lead 0 s"][1]
    assert base is not None
    for name, (lead, wpm, first) in measured.items():
        assert wpm is not None and abs(wpm - base) / base <= 0.03, (name, wpm, base)
        assert first is not None and abs(first - (first_word_at + lead)) <= 0.3, (name, first)


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return read_audio(TEST_DATA / "jfk.flac").samples


def test_pace_ignores_silence_before_and_inside_the_answer(jfk):
    measured = paces(jfk, lambda _audio: JFK_TEXT)
    first = speech_segments(jfk)[0][0]
    assert_same_pace(measured, first)
    ten = assess_delivery(JFK_TEXT, speech=speech_segments(variants(jfk)["lead 10 s"][1]))
    assert ten.timing == "voice activity"
    assert any("before your first word" in n for n in ten.notes)  # past the 5 s threshold
    three = assess_delivery(JFK_TEXT, speech=speech_segments(variants(jfk)["lead 3 s"][1]))
    assert not any("before your first word" in n for n in three.notes)


@pytest.mark.slow
@pytest.mark.e2e
def test_pace_through_the_recogniser_is_the_same_after_a_thinking_pause(tmp_path, transcriber):
    """The reported case: about 28 s of speech at 150 words per minute after
    10 s of silence was 114 wpm when whisper's first segment timed it."""
    from audio.tts import Speaker
    from tests.conftest import needs_espeak

    needs_espeak()
    text = (
        "A key value cache stores the keys and values of every earlier token, so each new "
        "token only computes its own query, key and value. That turns the cost of generating "
        "a token from quadratic into linear in the length of the context. The price is memory: "
        "the cache grows with the batch size, the number of layers and the sequence length, "
        "which is why long contexts need paged attention or a smaller cache with grouped "
        "query attention."
    )
    speech = read_audio(Speaker(tmp_path, rate=150).render(text)).samples

    def heard(audio: np.ndarray) -> str:
        return transcriber.transcribe(AudioClip(audio)).text

    measured = paces(speech, heard)
    assert_same_pace(measured, speech_segments(speech)[0][0])
    late = variants(speech)["lead 10 s"][1]
    t = transcriber.transcribe(AudioClip(late))
    by_segments = assess_delivery(t.text, t.segments)
    print({k: v[1:] for k, v in measured.items()}, "segments only:", by_segments.wpm)
