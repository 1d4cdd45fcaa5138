"""Property tests of the matcher (hypothesis).

Most properties run in lexical mode (``semantic=False``) so hundreds of
examples stay fast; one runs through the full grader with the embedding
model on a few examples.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questions import KeyPoint
from questions.matcher import grade

QUESTION = "How does a key value cache speed up generation?"
REFERENCE = (
    "The keys and values of earlier tokens never change, so they are stored and reused "
    "instead of recomputed at every decoding step. The cache costs memory that grows with "
    "the sequence length."
)
KEY_POINTS = (
    KeyPoint(
        "Keys and values of earlier tokens are stored and reused.", 2.0, ("reuses cached keys",)
    ),
    KeyPoint("They are not recomputed at every decoding step.", 1.0),
    KeyPoint("The cache costs memory growing with sequence length.", 1.0),
)
VOCAB = (
    "the keys values tokens stored reused memory cache grows sequence length decoding step "
    "model attention layer earlier every at of and is are a it they computed faster gpu "
    "batch two three 12 data set dataset byte bite pair encoding".split()
)
FILLERS = ["um", "uh", "er", "hmm", "erm"]

words = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=40)


def _lex(answer: str):
    return grade(QUESTION, REFERENCE, answer, KEY_POINTS, semantic=False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    a = _lex(text)
    assert a.score is None or 0.0 <= a.score <= 1.0
    assert (a.score is None) == a.no_speech
    for k in a.key_points:
        assert 0.0 <= k.similarity <= 1.0
        if k.evidence is not None:
            assert text[k.evidence.start : k.evidence.end] == k.evidence.text


@settings(max_examples=150, deadline=None)
@given(words, st.sampled_from(KEY_POINTS))
def test_adding_a_key_points_wording_never_lowers_the_score(ws: list[str], kp: KeyPoint) -> None:
    answer = " ".join(ws)
    before = _lex(answer).score or 0.0
    after = _lex(answer + ". " + kp.text).score or 0.0
    assert after >= before - 1e-6


@settings(max_examples=150, deadline=None)
@given(words, st.data())
def test_case_punctuation_and_fillers_do_not_change_the_grade(ws: list[str], data) -> None:
    plain = " ".join(ws)
    noisy_words: list[str] = []
    for w in ws:
        if data.draw(st.booleans()):
            noisy_words.append(data.draw(st.sampled_from(FILLERS)) + ",")
        w = w.upper() if data.draw(st.booleans()) else w.capitalize()
        noisy_words.append(w + data.draw(st.sampled_from(["", "", ",", ".", "?", "!"])))
    noisy = " ".join(noisy_words)
    a, b = _lex(plain), _lex(noisy)
    assert a.score == b.score
    assert [k.status for k in a.key_points] == [k.status for k in b.key_points]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words, st.sampled_from(FILLERS))
def test_full_grader_ignores_case_and_fillers_and_stays_in_range(
    ws: list[str], filler: str
) -> None:
    answer = " ".join(ws)
    noisy = " ".join(f"{filler} {w.upper()}" for w in ws)
    a, b = (
        grade(QUESTION, REFERENCE, answer, KEY_POINTS),
        grade(QUESTION, REFERENCE, noisy, KEY_POINTS),
    )
    assert a.score is not None and 0.0 <= a.score <= 1.0
    assert a.score == pytest.approx(b.score, abs=1e-4)
    with_point = grade(QUESTION, REFERENCE, answer + ". " + KEY_POINTS[0].text, KEY_POINTS)
    assert (with_point.score or 0.0) >= a.score - 1e-6
