"""Delivery metrics on transcripts."""

from __future__ import annotations

import pytest

from audio.delivery import (
    FILLER_RECALL_NOTE,
    DeliveryThresholds,
    assess_delivery,
    find_fillers,
    find_hedges,
    find_repeats,
    speaking_time,
)
from audio.results import Segment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Um, attention is, uh, a weighted sum.", ["um", "uh"]),
        ("Erm, hmm, er, umm.", ["erm", "hmm", "er", "um"]),
        ("It is, you know, fast. I mean, really fast.", ["you know", "I mean"]),
        ("Do you know what I mean?", []),
        ("So, the model learns.", ["so"]),
        ("It also helps, so that it converges. So far so good.", []),
        ("The loss is, like, huge.", ["like"]),
        ("Like, it was like really slow.", ["like", "like"]),
        ("I would like to add that it looks like a cache.", []),
        ("Techniques like LoRA help. It feels like magic.", []),
    ],
)
def test_fillers(text, expected):
    assert find_fillers(text) == expected


def test_hedges_and_repeats():
    text = "I think it is maybe sort of a cache. What kind of cache? Probably the the key cache."
    assert find_hedges(text) == ["I think", "maybe", "sort of", "probably"]
    assert find_repeats(text) == ["the the"]
    assert find_repeats("I think that that is fine. Really really. Done. Done.") == []


def test_speaking_time_excludes_long_pauses():
    segs = [(0.0, 10.0, "a"), (14.0, 20.0, "b"), (21.0, 30.0, "c")]
    assert speaking_time(segs) == pytest.approx(26.0)  # the 4 s gap is thinking time
    assert speaking_time(segs, excluded_pause_s=5.0) == pytest.approx(30.0)
    assert speaking_time([], duration_s=7.0) == 7.0


def test_pace_notes_and_thresholds():
    words = " ".join(["word"] * 91)
    fast = assess_delivery(words, [Segment(0.0, 30.0, words)])
    assert fast.wpm == pytest.approx(182.0)
    assert fast.pace == "a little fast"
    assert fast.notes[0] == "Pace 182 wpm: a little fast; aim for 120\u2013160."
    ok = assess_delivery(words, [Segment(0.0, 39.0, words)])
    assert ok.pace == "comfortable"
    custom = assess_delivery(words, [Segment(0.0, 39.0, words)],
                             thresholds=DeliveryThresholds(pace_max_wpm=130))
    assert custom.pace == "a little fast"
    short = assess_delivery("Yes.", [Segment(0.0, 1.0, "Yes.")])
    assert short.wpm is None and short.notes[0] == "Too short to measure pace."


def test_vad_pauses_take_precedence_and_long_pauses_are_reported():
    text = "Um, so, attention, um, like, is a lookup over keys and values with softmax weights."
    segs = [Segment(0.0, 4.0, text)]
    d = assess_delivery(text, segs, pauses=[(1.0, 2.5), (3.0, 3.4)])
    assert d.long_pauses == ((1.0, 2.5),)
    assert d.filler_count == 4 and dict(d.fillers)["um"] == 2
    assert any("filler words" in n for n in d.notes)
    assert any("pause of 1 s or more (longest 1.5 s)" in n for n in d.notes)
    as_dict = d.to_dict()
    assert as_dict["filler_count"] == 4 and as_dict["wpm"] == d.wpm


def test_recall_note_is_one_line():
    assert "\n" not in FILLER_RECALL_NOTE and "lower bound" in FILLER_RECALL_NOTE
