"""Spaced repetition of questions with FSRS (the ``fsrs`` package, v6 API).

Each graded answer is a review of its question: the score becomes an FSRS
rating (``rating_for``), the card moves on, and the store keeps it as JSON.
No speech or a skipped question is not a review. A question rated Again
``LEECH_LAPSES`` times or more is a leech: better studied than re-asked.
The wall clock is injected (``now``), so tests run on a fake calendar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

from interviewer.session.store import Store, parse_iso, utc_now

if TYPE_CHECKING:
    from fsrs.card import CardDict

    from questions.assessment import Assessment
    from questions.model import Question

AGAIN_BELOW = 0.4
HARD_BELOW = 0.6
GOOD_BELOW = 0.85
LEECH_LAPSES = 4
LEECH_SUGGESTION = "study the reference answer first"
LEARNING_STEP = timedelta(minutes=10)


def rating_for(score: float | None) -> int | None:
    """The FSRS rating (1 Again, 2 Hard, 3 Good, 4 Easy) for a score in
    [0, 1]; None (not a review) when there is no score."""
    if score is None:
        return None
    if score < AGAIN_BELOW:
        return 1
    if score < HARD_BELOW:
        return 2
    if score < GOOD_BELOW:
        return 3
    return 4


@dataclass(frozen=True)
class Review:
    """The outcome of one review."""

    question_id: str
    rating: int
    due: datetime
    lapses: int
    leech: bool


@dataclass(frozen=True)
class Leech:
    question_id: str
    lapses: int
    suggestion: str = LEECH_SUGGESTION


class ReviewScheduler:
    """FSRS scheduling of one bank's questions, persisted in ``store``."""

    def __init__(
        self,
        store: Store,
        bank: str,
        *,
        now: Callable[[], datetime] = utc_now,
        desired_retention: float = 0.9,
    ) -> None:
        from fsrs import Scheduler

        self.store = store
        self.bank = bank
        self.now = now
        # One short (re)learning step: a failed question comes back within the
        # hour, a good answer graduates to days at once (re-asking a well
        # answered interview question ten minutes later teaches nothing).
        # Fuzzing draws from the global random module: off, so schedules are
        # reproducible.
        self._fsrs = Scheduler(
            desired_retention=desired_retention,
            learning_steps=(LEARNING_STEP,),
            relearning_steps=(LEARNING_STEP,),
            enable_fuzzing=False,
        )

    def _card_id(self, question_id: str) -> int:
        import zlib

        return zlib.crc32(f"{self.bank}/{question_id}".encode()) + 1

    def record(
        self,
        question_id: str,
        score: float | None,
        *,
        attempt_id: int | None = None,
        when: datetime | None = None,
    ) -> Review | None:
        """Review ``question_id`` with the grade ``score``; None when the
        answer does not count (no score)."""
        from fsrs import Card, Rating

        value = rating_for(score)
        if value is None:
            return None
        when = _aware(when or self.now())
        row = self.store.get_card(self.bank, question_id)
        if row is None:
            card = Card(card_id=self._card_id(question_id), due=when)
        else:
            card = Card.from_dict(cast("CardDict", row.card))
        card, log = self._fsrs.review_card(card, Rating(value), review_datetime=when)
        saved = self.store.put_card(
            self.bank,
            question_id,
            card.to_dict(),
            card.due,
            rating=value,
            failed=value == 1,
            attempt_id=attempt_id,
            reviewed_at=when,
            log=log.to_dict(),
        )
        return Review(question_id, value, card.due, saved.lapses, saved.lapses >= LEECH_LAPSES)

    def due_questions(self, now: datetime | None = None) -> list[str]:
        """Question ids due at ``now``, most overdue first."""
        moment = _aware(now or self.now())
        return [c.question_id for c in self.store.cards(self.bank) if parse_iso(c.due) <= moment]

    def next_due(self) -> datetime | None:
        cards = self.store.cards(self.bank)
        return parse_iso(cards[0].due) if cards else None

    def due_count(self, now: datetime | None = None) -> int:
        return len(self.due_questions(now))

    def leeches(self) -> list[Leech]:
        """Questions failed (Again) ``LEECH_LAPSES`` times or more."""
        return [
            Leech(c.question_id, c.lapses)
            for c in self.store.cards(self.bank)
            if c.lapses >= LEECH_LAPSES
        ]

    def is_leech(self, question_id: str) -> bool:
        row = self.store.get_card(self.bank, question_id)
        return row is not None and row.lapses >= LEECH_LAPSES


class ReviewOnce:
    """Records one spaced-repetition review per attempt, from any thread:
    an answer graded again (a correction, a follow-up) is not reviewed twice."""

    def __init__(self, scheduler: ReviewScheduler, now: Callable[[], datetime]) -> None:
        self.scheduler = scheduler
        self.now = now
        self._done: set[int] = set()
        self._lock = threading.Lock()

    def record(self, question: Question, attempt_id: int, assessment: Assessment) -> None:
        with self._lock:
            if attempt_id in self._done or assessment.score is None:
                return
            self._done.add(attempt_id)
            self.scheduler.record(
                question.id, assessment.score, attempt_id=attempt_id, when=self.now()
            )


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
