"""Clauses and spans of an answer; negation scope over contrasts; the
misconception rule (asserted, not merely mentioned) with the real grader."""

from __future__ import annotations

import pytest

from questions import KeyPoint, Misconception, Question, meaning
from questions import normalize as nz
from questions.matcher import grade_question


def _words(text: str, span: meaning.Span) -> str:
    toks = nz.tokens(text)
    return " ".join(t.norm for t in toks[span.start : span.end])


def test_clauses_follow_punctuation_and_clause_openers():
    text = (
        "So basically, top p keeps the likeliest tokens until they add up to p. "
        "Top k keeps a fixed number because it ignores the shape"
    )
    got = [_words(text, c) for c in meaning.clauses(text, nz.tokens(text))]
    assert got == [
        "so basically top p keeps the likeliest tokens",
        "until they add up to p",
        "top k keeps a fixed number",
        "because it ignores the shape",
    ]


def test_an_unpunctuated_stretch_is_cut_into_overlapping_windows():
    text = " ".join(f"word{i}" for i in range(60))
    cl = meaning.clauses(text, nz.tokens(text))
    assert len(cl) > 3
    assert all(len(c) <= meaning.WINDOW_WORDS for c in cl)
    assert cl[1].start < cl[0].end  # overlapping
    assert cl[-1].end == 60


def test_spans_join_neighbouring_clauses_within_the_limit():
    text = "The first clause here, the second clause here, a third clause here, and a fourth."
    spans = meaning.spans(text, nz.tokens(text))
    lengths = {(s.start, s.end) for s in spans}
    # "and a fourth" is too short to stand alone: it joins the third clause
    assert [(c.start, c.end) for c in meaning.clauses(text, nz.tokens(text))] == [
        (0, 4),
        (4, 8),
        (8, 15),
    ]
    assert {(0, 4), (0, 8), (4, 15), (0, 15)} <= lengths
    assert all(len(s) <= meaning.MAX_SPAN_WORDS for s in spans)


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        (
            "unlike an RNN, which reads one token at a time, a transformer sees them all",
            {"an", "rnn", "which", "reads", "1", "token", "at", "a", "time"},
        ),
        ("unlike exact search it can miss true neighbours", {"exact", "search"}),
        (
            "it rarely reaches the accuracy of the teacher, sadly",
            {"reaches", "the", "accuracy", "of", "teacher"},
        ),
        ("no, it is fine", set()),
    ],
)
def test_negation_scope(text, negated):
    toks = nz.tokens(text)
    flags = nz.negated_positions(toks)
    assert {t.norm for t, f in zip(toks, flags, strict=True) if f} == negated


QUESTION = Question(
    id="posenc",
    prompt="Why do transformers need positional encodings?",
    reference=(
        "Self-attention treats its input as a set: it compares every token with every "
        "other token at once and has no notion of order, so position must be added to the "
        "token embeddings, either as fixed sinusoids, learned absolute embeddings or "
        "rotary encodings applied to queries and keys."
    ),
    key_points=(
        KeyPoint(
            "Self-attention is permutation invariant and has no notion of token order.",
            2.0,
            ("no notion of order", "permutation invariant"),
            ("attention looks at every word at once so shuffling them changes nothing",),
        ),
        KeyPoint(
            "Position information is added to the token embeddings.",
            1.0,
            ("add position information",),
            ("you inject where each word sits by adding a position vector to its embedding",),
        ),
        KeyPoint(
            "Common schemes are sinusoidal, learned absolute and rotary encodings.",
            1.0,
            ("sinusoidal encodings", "rotary embeddings", "rope"),
        ),
    ),
    misconceptions=(
        Misconception(
            "Transformers read the tokens of a sentence one after another, like an RNN.",
            ("reads tokens one at a time", "processes words sequentially"),
            "Self-attention sees all tokens at once; order has to be injected.",
            0.15,
        ),
    ),
)


@pytest.mark.parametrize(
    "answer",
    [
        "Unlike an RNN, which reads tokens one at a time, a transformer sees every token at "
        "once, so it has no idea of order and we add position vectors to the embeddings.",
        "A transformer does not read tokens one at a time; attention sees them all at once.",
        "Self-attention sees all tokens at once; order has to be injected.",
    ],
)
def test_a_mentioned_misconception_is_not_charged(answer):
    a = grade_question(QUESTION, answer)
    assert not a.misconceptions, a.misconceptions


def test_an_asserted_misconception_is_charged_with_its_clause_as_evidence():
    answer = (
        "Well, transformers basically read the words one after another, like an RNN does, "
        "and positional encodings just speed that reading up."
    )
    a = grade_question(QUESTION, answer)
    assert [m.text for m in a.misconceptions] == [QUESTION.misconceptions[0].text]
    ev = a.misconceptions[0].evidence
    assert len(ev.text.split()) >= 3 and answer[ev.start : ev.end] == ev.text


def test_a_point_in_other_words_is_covered_and_a_partial_one_says_what_is_missing():
    a = grade_question(
        QUESTION,
        "Attention compares each word with all the others in one go, so if you shuffle the "
        "sentence nothing changes: there is no order in it. That's why you add a vector "
        "for where each word sits onto its embedding.",
    )
    assert [k.status for k in a.key_points][:2] == ["covered", "covered"]
    for k in a.key_points:
        if k.status == "partial":
            assert k.missing


CREDIT_ANSWERS = (
    "Attention compares each word with all the others in one go, so if you shuffle the "
    "sentence nothing changes. That's why you add a vector for where each word sits.",
    "Attention does not care about order.",
    "The model has no sense of order, so you give it positions somehow.",
    "You add position info to embeddings, sinusoidal I think.",
    "It is about the learning rate schedule, mostly warm-up and decay.",
)


def test_key_point_credit_is_what_the_verdicts_say():
    """A curated rubric's key-point credit is the weighted mean of 1 per
    covered, 1/2 per partial and 0 per missed point, however close a partial
    point came: the score agrees with the verdicts shown beside it."""
    from questions.assessment import STATUS_CREDIT

    assert STATUS_CREDIT == {"covered": 1.0, "partial": 0.5, "missed": 0.0}
    partial_similarities = set()
    for answer in CREDIT_ANSWERS:
        a = grade_question(QUESTION, answer)
        earned = sum(k.weight * STATUS_CREDIT[k.status] for k in a.key_points)
        total = sum(k.weight for k in a.key_points)
        assert dict(a.details)["key_points"] == pytest.approx(earned / total, abs=1e-4)
        partial_similarities |= {k.similarity for k in a.key_points if k.status == "partial"}
    assert len(partial_similarities) >= 2, "partial points at different closeness were checked"
