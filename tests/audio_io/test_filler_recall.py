"""Repeats the filler-recall measurement documented in ``audio.delivery``:
espeak-ng speech with planted fillers, transcribed by the app's tiny.en."""

from __future__ import annotations

from collections import Counter

import pytest

from audio.clip import read_audio
from audio.delivery import find_fillers
from audio.tts import Speaker

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SENTENCES = [
    "So, um, attention lets each token look at every other token.",
    "Uh, the model, like, computes a weighted sum of the values.",
    "I mean, the key idea is, um, that the weights come from a softmax.",
    "Er, you know, positional encodings add order information.",
    "Hmm, so the decoder is, uh, autoregressive.",
    "Like, fine tuning with LoRA, um, trains small low rank matrices.",
    "You know, the tokenizer, uh, splits words into subword units.",
    "So, I mean, er, beam search keeps several candidate sequences.",
]
VOCAL = {"um", "uh", "er", "erm", "hmm"}


def test_filler_recall_matches_the_documented_limitation(tmp_path, transcriber):
    speaker = Speaker(tmp_path, rate=160)
    planted, kept = Counter(), Counter()
    for sentence in SENTENCES:
        want = Counter(find_fillers(sentence))
        got = Counter(find_fillers(transcriber.transcribe(read_audio(speaker.render(sentence))).text))
        planted += want
        kept += want & got
    assert sum(planted.values()) == 17
    recall = sum(kept.values()) / sum(planted.values())
    vocal = sum(v for k, v in kept.items() if k in VOCAL)
    words = sum(v for k, v in kept.items() if k not in VOCAL)
    # documented: 0.41 overall, 1/9 vocal, 6/8 word fillers (deterministic greedy decoding)
    assert 0.25 <= recall <= 0.6, f"recall {recall:.2f}: update audio.delivery's docstring"
    assert vocal <= 3, "whisper now keeps um/uh: update FILLER_RECALL_NOTE"
    assert words >= 4
