"""What a finished session comes to: one result per question reached, the
total and mean score, and for rapid rounds the personal best."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from interviewer.session.model import Attempt, SessionConfig, SessionInfo
from interviewer.session.scheduler import ReviewScheduler
from interviewer.session.store import Store
from questions.model import Question


@dataclass(frozen=True)
class QuestionResult:
    """One question of a finished session."""

    question_id: str
    prompt: str
    score: float | None
    answer_time_s: float | None
    state: str
    """The attempt's state ("graded", "skipped", ...), or "unanswered"."""
    attempt_id: int | None = None
    no_speech: bool = False
    timed_out: bool = False


@dataclass(frozen=True)
class SessionSummary:
    session_id: int
    mode: str
    bank: str
    results: tuple[QuestionResult, ...]
    total: float
    """Sum of the scores (no speech and skipped count 0)."""
    mean: float | None
    """Mean score of the graded answers (None when nothing was graded)."""
    answered: int
    previous_best: float | None = None
    """Rapid rounds: the best ``total`` of earlier rounds with the same settings."""
    new_best: bool = False
    """Rapid rounds: this round beat ``previous_best`` (or is the first)."""
    leeches: tuple[str, ...] = ()
    """Questions of this session failed often: study their reference first."""
    ungraded: tuple[int, ...] = ()
    """Attempts handed to the background grader and not graded when the
    session finished: kept "recorded" and offered for recovery."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def config_key(config: SessionConfig) -> str:
    """What makes two sessions comparable for a personal best (not the seed
    or the order)."""
    basis = {
        "mode": config.mode,
        "bank": config.bank,
        "count": config.count,
        "topics": sorted(config.topics),
        "difficulty": config.difficulty,
        "time_limit_s": config.time_limit_s,
        "question_ids": list(config.question_ids),
    }
    return hashlib.sha1(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def result_for(question: Question, attempt: Attempt) -> QuestionResult:
    """The result of one stored attempt."""
    return QuestionResult(
        question_id=question.id,
        prompt=question.prompt,
        score=attempt.score,
        answer_time_s=attempt.answer_time_s,
        state=attempt.state,
        attempt_id=attempt.id,
        no_speech=bool(attempt.assessment and attempt.assessment.get("no_speech")),
        timed_out=bool(attempt.extra.get("timed_out")),
    )


def summarise(
    store: Store,
    scheduler: ReviewScheduler,
    session: SessionInfo,
    config: SessionConfig,
    reached: Sequence[Question],
    attempt_ids: Mapping[str, int],
    *,
    ungraded: tuple[int, ...] = (),
) -> SessionSummary:
    """Summarise the questions ``reached`` (``attempt_ids``: each one's last
    attempt); ``ungraded``: attempts the background grader did not finish."""
    results = []
    for q in reached:
        attempt_id = attempt_ids.get(q.id)
        if attempt_id is None:
            results.append(QuestionResult(q.id, q.prompt, None, None, "unanswered"))
            continue
        results.append(result_for(q, store.get_attempt(attempt_id)))
    scores = [r.score for r in results if r.score is not None]
    total = round(sum(scores), 4)
    mean = round(total / len(scores), 4) if scores else None
    previous = None
    new_best = False
    if config.mode == "rapid":
        previous = store.best_result(config_key(config), exclude=session.id)
        new_best = bool(scores) and (previous is None or total > previous)
    leeches = tuple(r.question_id for r in results if scheduler.is_leech(r.question_id))
    return SessionSummary(
        session_id=session.id,
        mode=config.mode,
        bank=session.bank,
        results=tuple(results),
        total=total,
        mean=mean,
        answered=len(scores),
        previous_best=previous,
        new_best=new_best,
        leeches=leeches,
        ungraded=ungraded,
    )


def close_session(
    store: Store,
    scheduler: ReviewScheduler,
    session: SessionInfo,
    config: SessionConfig,
    reached: Sequence[Question],
    attempt_ids: Mapping[str, int],
    *,
    ungraded: tuple[int, ...] = (),
) -> SessionSummary:
    """End the session row, summarise it and keep the result (the total is
    what later rapid rounds compare against)."""
    store.end_session(session.id)
    summary = summarise(store, scheduler, session, config, reached, attempt_ids, ungraded=ungraded)
    store.set_session_result(
        session.id, {"total": summary.total, "mean": summary.mean, "answered": summary.answered}
    )
    return summary


__all__ = [
    "QuestionResult",
    "SessionSummary",
    "close_session",
    "config_key",
    "result_for",
    "summarise",
]
