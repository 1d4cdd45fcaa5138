"""Choosing the questions of a session: a pure function of the bank, the
session's configuration, a seeded random generator and what the store knows
(which questions are due, recent scores)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from interviewer.session.errors import NothingDue, SessionError
from interviewer.session.model import SessionConfig
from questions.model import Bank, Question

if TYPE_CHECKING:
    from datetime import datetime

    from interviewer.session.scheduler import ReviewScheduler
    from interviewer.session.store import Store


class SelectionError(ValueError):
    """No question matches the session's filters; the message says which."""


def filter_questions(bank: Bank, config: SessionConfig) -> list[Question]:
    """The bank's questions matching the topics (any of them) and difficulty."""
    if config.question_ids:
        missing = [q for q in config.question_ids if q not in bank]
        if missing:
            raise SelectionError(
                f"no question {missing[0]!r} in bank {bank.name!r}; 'interviewer bank list' shows the ids"
            )
        return [bank.get(q) for q in config.question_ids]
    chosen = list(bank.questions)
    if config.topics:
        wanted = {t.lower() for t in config.topics}
        unknown = wanted - {t.lower() for t in bank.topics}
        if unknown == wanted:
            raise SelectionError(
                f"no topic {sorted(unknown)[0]!r} in bank {bank.name!r}; topics: {', '.join(bank.topics)}"
            )
        chosen = [q for q in chosen if wanted & {t.lower() for t in q.topics}]
    if config.difficulty is not None:
        chosen = [q for q in chosen if q.difficulty == config.difficulty]
    if not chosen:
        raise SelectionError(
            f"no question in bank {bank.name!r} matches "
            + _describe(config)
            + "; widen the topics or the difficulty"
        )
    return chosen


def select_questions(
    bank: Bank,
    config: SessionConfig,
    rng: random.Random,
    *,
    due: Sequence[str] = (),
    recent_scores: Mapping[str, float] | None = None,
) -> list[Question]:
    """The session's questions, in the order they are asked.

    ``order``: ``sequential`` keeps the bank's order; ``random`` shuffles with
    ``rng`` (same seed, same questions); ``due`` puts the questions due for
    review first (in ``due`` order), the rest shuffled; ``weakest`` puts the
    questions with the lowest recent score first, questions never answered
    after them (shuffled). Review mode keeps only the due questions.
    Explicit ``question_ids`` are asked as given. ``count`` <= 0 means all.
    """
    pool = filter_questions(bank, config)
    if config.question_ids:
        ordered = pool
    else:
        ordered = _ordered(pool, config, rng, due, recent_scores or {})
    if config.mode == "review" and not config.question_ids:
        due_set = set(due)
        ordered = [q for q in ordered if q.id in due_set]
    if config.count > 0:
        ordered = ordered[: config.count]
    return ordered


def session_questions(
    bank: Bank,
    config: SessionConfig,
    rng: random.Random,
    scheduler: ReviewScheduler,
    store: Store,
    now: datetime,
) -> list[Question]:
    """The questions of a new session, in the order they are asked, from
    what the store knows (due cards, recent scores). Raises ``SessionError``
    when no question matches and ``NothingDue`` when none is due for review."""
    due = scheduler.due_questions(now) if config.mode == "review" or config.order == "due" else []
    scores = store.recent_scores(bank=bank.name) if config.order == "weakest" else {}
    try:
        chosen = select_questions(bank, config, rng, due=due, recent_scores=scores)
    except SelectionError as exc:
        raise SessionError(str(exc)) from None
    if not chosen:
        nxt = scheduler.next_due()
        when = f"; the next is due {nxt:%Y-%m-%d %H:%M} UTC" if nxt else ""
        raise NothingDue(f"no question of bank {bank.name!r} is due for review{when}")
    return chosen


def _ordered(
    pool: list[Question],
    config: SessionConfig,
    rng: random.Random,
    due: Sequence[str],
    scores: Mapping[str, float],
) -> list[Question]:
    order = "due" if config.mode == "review" and config.order == "random" else config.order
    if order == "sequential":
        return list(pool)
    if order == "random":
        shuffled = list(pool)
        rng.shuffle(shuffled)
        return shuffled
    if order == "due":
        rank = {qid: i for i, qid in enumerate(due)}
        first = sorted((q for q in pool if q.id in rank), key=lambda q: rank[q.id])
        rest = [q for q in pool if q.id not in rank]
        rng.shuffle(rest)
        return first + rest
    if order == "weakest":
        answered = [q for q in pool if q.id in scores]
        fresh = [q for q in pool if q.id not in scores]
        rng.shuffle(answered)  # ties broken by the seed, then a stable sort
        answered.sort(key=lambda q: scores[q.id])
        rng.shuffle(fresh)
        return answered + fresh
    raise SelectionError(f"unknown order {order!r}; use random, sequential, due or weakest")


def _describe(config: SessionConfig) -> str:
    parts = []
    if config.topics:
        parts.append("topics " + ", ".join(config.topics))
    if config.difficulty is not None:
        parts.append(f"difficulty {config.difficulty}")
    return " and ".join(parts) or "the filters"
