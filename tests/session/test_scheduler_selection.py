"""FSRS scheduling on a fake calendar, and question selection."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from interviewer.session.model import SessionConfig
from interviewer.session.scheduler import (
    LEECH_LAPSES,
    LEECH_SUGGESTION,
    ReviewScheduler,
    rating_for,
)
from interviewer.session.selection import SelectionError, filter_questions, select_questions
from interviewer.session.store import Store
from tests.session.fakes import sample_bank

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Wall:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "fsrs.sqlite3")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("score", "rating"),
    [(None, None), (0.0, 1), (0.39, 1), (0.4, 2), (0.59, 2), (0.6, 3), (0.84, 3), (0.85, 4), (1.0, 4)],
)
def test_rating_from_score(score, rating):
    assert rating_for(score) == rating


def test_due_queue_moves_with_the_clock(store):
    wall = Wall()
    sched = ReviewScheduler(store, "sample", now=wall)
    assert sched.due_questions() == []
    assert sched.record("q1", None) is None  # no speech: not a review
    assert store.cards("sample") == []
    easy = sched.record("q1", 0.95)
    failed = sched.record("q2", 0.1)
    good = sched.record("q3", 0.7)
    assert easy.rating == 4 and failed.rating == 1 and good.rating == 3
    # a failed card comes back within minutes, an easy one after days
    assert failed.due - T0 <= timedelta(minutes=10)
    assert easy.due - T0 >= timedelta(days=1)
    assert failed.due < good.due < easy.due
    assert sched.due_questions(T0) == []
    assert sched.due_questions(T0 + timedelta(minutes=11)) == ["q2"]
    assert store.due_count("sample", T0 + timedelta(minutes=11)) == 1
    far = T0 + timedelta(days=60)
    assert sched.due_questions(far) == ["q2", "q3", "q1"]  # most overdue first
    assert sched.next_due() == failed.due
    # the card's state survives a new scheduler on the same store (JSON in SQLite)
    again = ReviewScheduler(store, "sample", now=wall)
    assert again.due_questions(far) == ["q2", "q3", "q1"]
    assert [r["rating"] for r in store.reviews("sample")] == [4, 1, 3]


def test_schedules_are_reproducible(tmp_path):
    dues = []
    for name in ("a", "b"):
        with Store(tmp_path / f"{name}.sqlite3") as s:
            sched = ReviewScheduler(s, "sample", now=Wall())
            t = T0
            for score in (0.9, 0.7, 0.95, 0.3, 0.8):
                review = sched.record("q1", score, when=t)
                t = review.due
            dues.append(t)
    assert dues[0] == dues[1]


def test_leeches(store):
    wall = Wall()
    sched = ReviewScheduler(store, "sample", now=wall)
    for i in range(LEECH_LAPSES - 1):
        review = sched.record("q1", 0.1, when=T0 + timedelta(hours=i))
        assert not review.leech
    sched.record("q1", 0.95, when=T0 + timedelta(hours=5))  # a success in between
    assert sched.leeches() == []
    review = sched.record("q1", 0.2, when=T0 + timedelta(hours=6))
    assert review.leech and review.lapses == LEECH_LAPSES
    [leech] = sched.leeches()
    assert leech.question_id == "q1" and leech.suggestion == LEECH_SUGGESTION
    assert sched.is_leech("q1") and not sched.is_leech("q2")


def ids(qs):
    return [q.id for q in qs]


def test_filter_by_topic_and_difficulty():
    bank = sample_bank()
    assert ids(filter_questions(bank, SessionConfig(topics=("alpha",)))) == ["q1", "q2"]
    assert ids(filter_questions(bank, SessionConfig(topics=("ALPHA", "gamma")))) == ["q1", "q2", "q5", "q6"]
    assert ids(filter_questions(bank, SessionConfig(difficulty=3))) == ["q3", "q6"]
    assert ids(filter_questions(bank, SessionConfig(topics=("beta",), difficulty=1))) == ["q4"]
    with pytest.raises(SelectionError, match="no question .* matches topics alpha and difficulty 3"):
        filter_questions(bank, SessionConfig(topics=("alpha",), difficulty=3))
    with pytest.raises(SelectionError, match="no topic 'zeta'"):
        filter_questions(bank, SessionConfig(topics=("zeta",)))
    with pytest.raises(SelectionError, match="no question 'nope'"):
        filter_questions(bank, SessionConfig(question_ids=("nope",)))


def test_random_order_is_deterministic_per_seed():
    bank = sample_bank()
    cfg = SessionConfig(count=4, order="random")
    a = ids(select_questions(bank, cfg, random.Random(1)))
    b = ids(select_questions(bank, cfg, random.Random(1)))
    orders = {tuple(ids(select_questions(bank, cfg, random.Random(s)))) for s in range(20)}
    assert a == b and len(a) == 4 and len(set(a)) == 4
    assert len(orders) > 5


def test_sequential_count_and_explicit_ids():
    bank = sample_bank()
    assert ids(select_questions(bank, SessionConfig(count=3, order="sequential"), random.Random(0))) == ["q1", "q2", "q3"]
    assert len(select_questions(bank, SessionConfig(count=0, order="sequential"), random.Random(0))) == 6
    explicit = SessionConfig(question_ids=("q5", "q2"), order="random")
    assert ids(select_questions(bank, explicit, random.Random(0))) == ["q5", "q2"]


def test_due_order_puts_due_questions_first():
    bank = sample_bank()
    cfg = SessionConfig(count=6, order="due")
    chosen = ids(select_questions(bank, cfg, random.Random(3), due=["q4", "q2"]))
    assert chosen[:2] == ["q4", "q2"] and sorted(chosen) == ["q1", "q2", "q3", "q4", "q5", "q6"]
    review = SessionConfig(mode="review", count=10)
    assert ids(select_questions(bank, review, random.Random(3), due=["q6", "q1"])) == ["q6", "q1"]


def test_weakest_first():
    bank = sample_bank()
    cfg = SessionConfig(count=6, order="weakest")
    scores = {"q3": 0.9, "q5": 0.1, "q1": 0.5}
    chosen = ids(select_questions(bank, cfg, random.Random(0), recent_scores=scores))
    assert chosen[:3] == ["q5", "q1", "q3"] and sorted(chosen[3:]) == ["q2", "q4", "q6"]
