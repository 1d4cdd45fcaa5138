"""Lists in questions and references: how many items an answer needs."""

from __future__ import annotations

from questions import grade
from questions.structure import asked_count, item_spans, items_needed


def test_counts_asked_for() -> None:
    assert asked_count("Name the 3 service classes of the data link layer.") == (3, False)
    assert asked_count("Please state at least four objectives of IPv6.") == (4, True)
    assert asked_count("Name and describe two challenges of mobile routing.") == (2, False)


def test_answer_lengths_and_plain_questions_are_not_counts() -> None:
    assert asked_count("Explain your answer in 2-5 sentences.") is None
    assert asked_count("Explain it in 3 sentences.") is None
    assert asked_count("What is byte pair encoding?") is None


def test_items_needed_only_for_at_least_or_alternatives() -> None:
    listed = "Possible challenges: 1. Security of the link. 2. Moving nodes. 3. Hidden terminals."
    assert items_needed("Name two challenges of mobile routing.", listed) == 2
    assert items_needed("State at least 2 challenges.", "Security. Moving nodes. Power.") == 2
    # "name the 2 phases" with a reference describing both: everything counts
    assert items_needed("Name the 2 phases.", "Slow start doubles. Avoidance adds one.") is None


def test_item_spans_follow_markers_then_sentences() -> None:
    text = "Possible: 1. first thing 2. second thing ● third thing"
    spans = [text[a:b].strip() for a, b in item_spans(text)]
    assert spans == ["Possible:", "1. first thing", "2. second thing", "● third thing"]
    assert len(item_spans("One sentence. Another one; and a third.")) == 3


def test_two_of_four_alternatives_is_a_full_answer() -> None:
    q = "What are the challenges of mobile routing? Name and describe two challenges."
    ref = (
        "Possible challenges: 1. Security: packets are easily intercepted or injected over "
        "the radio, so encryption and authentication are needed. 2. Adaptation: nodes move, "
        "join and leave, so the topology changes all the time. 3. Hidden terminals: two "
        "senders out of each other's range collide at a receiver between them. 4. Quality "
        "of service is hard to guarantee with changing links and scarce node resources."
    )
    two = (
        "Security is a problem because packets over the radio can be intercepted or injected, "
        "so you need encryption and authentication. Adaptation is the other: nodes move, join "
        "and leave, so the topology keeps changing."
    )
    with_count = grade(q, ref, two)
    without_count = grade("What are the challenges of mobile routing?", ref, two)
    assert with_count.score is not None and without_count.score is not None
    # compared before the score is capped at 1: both may reach the cap
    raw_with, raw_without = dict(with_count.details)["raw"], dict(without_count.details)["raw"]
    assert raw_with > raw_without + 0.1
    assert with_count.score >= max(0.8, without_count.score)
