"""The answer set that backs the latency benchmark's word error rates."""

from __future__ import annotations

import numpy as np

from audio.clip import SAMPLE_RATE, AudioClip
from audio.results import Segment, Transcript
from tests.benchmarks import answer_set


class Hears:
    """Returns a fixed text for a clip of a given length, whatever the pace."""

    skips_speech = False
    beam_size = 5

    def __init__(self, texts: dict[int, str]) -> None:
        self.texts = texts

    def transcribe(self, clip: AudioClip, hint: str = "", **_) -> Transcript:
        text = self.texts.get(len(clip.samples), "")
        segments = (Segment(0.0, clip.duration_s, text),) if text else ()
        return Transcript(text, segments, clip.duration_s, "fake", "fake", 0.0, ())


def test_word_error_rates_are_pooled_over_the_set():
    short = np.zeros(2 * SAMPLE_RATE, np.float32)  # below any stretch length: one call each
    long = np.zeros(3 * SAMPLE_RATE, np.float32)
    answers = [
        answer_set.SpokenAnswer("a", short, "one two three four", ""),
        answer_set.SpokenAnswer("b", long, "five six", ""),
    ]
    fake = Hears({len(short): "one two three", len(long): "five six"})
    result = answer_set.measure(fake, answers, lambda line: None)
    assert result["set_words"] == 6
    # one error in six words, not the mean of 0.25 and 0.0
    assert result["set_wer_incremental"] == round(1 / 6, 4)
    assert result["set_wer_batch"] == round(1 / 6, 4)
    assert [a["id"] for a in result["set_per_answer"]] == ["a", "b"]


def test_references_with_symbols_are_left_out():
    assert answer_set._symbols("attention costs O(n^2) in 8-bit") > answer_set._symbols(
        "attention is quadratic in the sequence length"
    )
    assert answer_set._sentences("One. Two? Three!") == ["One.", "Two?", "Three!"]
