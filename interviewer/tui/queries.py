"""Read-side helpers the screens run on worker threads (store in, plain
values out). Writing a grade is the session layer's job
(``interviewer.session.answers``), never the screens'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from interviewer.session.model import Attempt

if TYPE_CHECKING:
    from interviewer.session.engine import SessionEngine
    from interviewer.session.ports import Grader
    from interviewer.session.store import Store
    from interviewer.tui.deps import PortsState
    from questions.model import Bank


@dataclass(frozen=True)
class ScorePoint:
    """One graded attempt, reduced to what the progress chart needs."""

    day: str
    """YYYY-MM-DD"""
    topic: str
    percent: float


@dataclass(frozen=True)
class TodayInfo:
    due: int
    streak: int
    attempts_today: int
    interrupted: int


def _today(today: Callable[[], str] | None) -> date:
    if today is not None:
        return date.fromisoformat(today())
    return datetime.now().astimezone().date()


def today_info(store: Store, bank: Bank, today: Callable[[], str] | None = None) -> TodayInfo:
    day = _today(today)
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    answered = store.attempts(
        since=start, until=start + timedelta(days=1), states=("graded", "transcribed")
    )
    return TodayInfo(
        due=store.due_count(bank.name),
        streak=store.streak(today=day),
        attempts_today=len(answered),
        interrupted=len(
            {a.id for a in store.interrupted_attempts()}
            | {f.attempt_id for f in store.interrupted_followups()}
        ),
    )


def transcribe_interrupted(engine: SessionEngine) -> int:
    """Transcribe and grade the answers a crash left on disk; returns how many."""
    done = 0
    for attempt in engine.recover_interrupted():
        engine.recover(attempt.id)
        done += 1
    return done


@dataclass(frozen=True)
class Filters:
    """The review table's filters (empty = no filter)."""

    question: str = ""
    topic: str = ""
    day: str = ""
    """YYYY-MM-DD or YYYY-MM (prefix of the attempt's date)."""
    min_score: int | None = None
    """Percent."""


def filter_attempts(attempts: list[Attempt], bank: Bank, f: Filters) -> list[Attempt]:
    out = []
    for a in attempts:
        if f.question and f.question.lower() not in a.question_id.lower():
            q = bank.get(a.question_id) if a.question_id in bank else None
            if q is None or f.question.lower() not in q.prompt.lower():
                continue
        if f.topic:
            topics = bank.get(a.question_id).topics if a.question_id in bank else ()
            if f.topic not in topics:
                continue
        if f.day and not a.started_at.startswith(f.day):
            continue
        if f.min_score is not None and (a.score is None or a.score * 100 < f.min_score):
            continue
        out.append(a)
    return out


def score_points(attempts: list[Attempt], bank: Bank) -> list[ScorePoint]:
    points = []
    for a in attempts:
        if a.state != "graded" or a.score is None:
            continue
        topics = bank.get(a.question_id).topics if a.question_id in bank else ("other",)
        for t in topics or ("other",):
            points.append(ScorePoint(a.started_at[:10], t, a.score * 100))
    return points


def key_point_changes(attempts: list[Attempt]) -> list[tuple[str, list[str]]]:
    """For each key point (by text), its status in each attempt, oldest first."""
    order: list[str] = []
    status: dict[str, dict[int, str]] = {}
    for i, a in enumerate(attempts):
        for k in (a.assessment or {}).get("key_points", ()):
            if k["text"] not in status:
                order.append(k["text"])
                status[k["text"]] = {}
            status[k["text"]][i] = k["status"]
    return [(t, [status[t].get(i, "-") for i in range(len(attempts))]) for t in order]


def current_grader(ports_state: PortsState) -> Grader:
    """The grader the sessions use (from the loaded ports), else the default."""
    from interviewer.session.answers import grader_or_default

    loaded = ports_state.loaded if ports_state.ready.is_set() else None
    ports = loaded.ports if loaded is not None else None
    return grader_or_default(ports.grader if ports is not None else None)
