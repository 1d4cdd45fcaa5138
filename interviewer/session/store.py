"""The attempt store: one SQLite file (standard library ``sqlite3``).

The database lives at ``interviewer.paths.database_path()`` with the audio of
each attempt beside it (``audio/<attempt id>.wav``). An attempt row exists from
the moment recording starts and moves through the states
recording -> recorded -> transcribed -> graded (or skipped / failed), so an
answer in flight survives a crash: ``interrupted_attempts()`` lists it.
A follow-up question's reply has its own row in ``followups`` (the probe,
audio ``audio/<attempt id>-followup-<n>.wav``, transcript, grade) with the
same states; ``interrupted_followups()`` lists those a crash cut off.

Schema versions are kept in ``PRAGMA user_version`` and upgraded by the
ordered ``MIGRATIONS`` list. Everything created is readable by the user only.
Failures reach the caller as ``StoreError`` with one actionable line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from interviewer import paths
from interviewer.session.model import Attempt, AttemptState, FollowUp, SessionInfo


class StoreError(Exception):
    """The store cannot do what was asked; the message says why and what to do."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with microseconds (sorts as text, in order of events)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


MIGRATIONS: list[str] = [
    # 1: sessions, attempts (with the history of earlier grades), FSRS cards, reviews
    """
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        mode        TEXT NOT NULL,
        bank        TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        config      TEXT NOT NULL DEFAULT '{}',
        result      TEXT
    );
    CREATE TABLE attempts (
        id                INTEGER PRIMARY KEY,
        session_id        INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        bank              TEXT,
        question_id       TEXT NOT NULL,
        state             TEXT NOT NULL,
        started_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL,
        audio_file        TEXT,
        duration_s        REAL,
        transcript        TEXT,
        transcript_edited INTEGER NOT NULL DEFAULT 0,
        typed             INTEGER NOT NULL DEFAULT 0,
        score             REAL,
        assessment        TEXT,
        delivery          TEXT,
        answer_time_s     REAL,
        error             TEXT,
        extra             TEXT NOT NULL DEFAULT '{}',
        grade_history     TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX attempts_by_question ON attempts(question_id, started_at);
    CREATE INDEX attempts_by_session ON attempts(session_id);
    CREATE INDEX attempts_by_state ON attempts(state);
    CREATE TABLE cards (
        bank        TEXT NOT NULL,
        question_id TEXT NOT NULL,
        card        TEXT NOT NULL,
        due         TEXT NOT NULL,
        reviews     INTEGER NOT NULL DEFAULT 0,
        lapses      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bank, question_id)
    );
    CREATE TABLE reviews (
        id          INTEGER PRIMARY KEY,
        bank        TEXT NOT NULL,
        question_id TEXT NOT NULL,
        attempt_id  INTEGER REFERENCES attempts(id) ON DELETE SET NULL,
        rating      INTEGER NOT NULL,
        reviewed_at TEXT NOT NULL,
        log         TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX reviews_by_question ON reviews(bank, question_id);
    """,
    # 2: follow-up questions of an attempt; the answer's own score beside the combined one
    """
    ALTER TABLE attempts ADD COLUMN unprompted_score REAL;
    UPDATE attempts SET unprompted_score = score;
    CREATE TABLE followups (
        id             INTEGER PRIMARY KEY,
        attempt_id     INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
        position       INTEGER NOT NULL,
        key_point      INTEGER NOT NULL,
        key_point_text TEXT NOT NULL,
        prompt         TEXT NOT NULL,
        state          TEXT NOT NULL,
        started_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        audio_file     TEXT,
        duration_s     REAL,
        transcript     TEXT,
        typed          INTEGER NOT NULL DEFAULT 0,
        grade          TEXT,
        answer_time_s  REAL,
        error          TEXT,
        extra          TEXT NOT NULL DEFAULT '{}',
        UNIQUE (attempt_id, position)
    );
    CREATE INDEX followups_by_state ON followups(state);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_JSON_FIELDS = ("assessment", "delivery", "extra")
_ATTEMPT_FIELDS = {f.name for f in fields(Attempt)}
_UPDATABLE = _ATTEMPT_FIELDS - {"id", "session_id", "question_id", "started_at", "audio_path"}
INTERRUPTED_STATES: tuple[AttemptState, ...] = ("recording", "recorded", "transcribed")
_FOLLOWUP_JSON = ("grade", "extra")
_FOLLOWUP_UPDATABLE = {"state", "duration_s", "transcript", "typed", "grade", "answer_time_s",
                       "error", "extra"}


@dataclass(frozen=True)
class CardRow:
    """The stored FSRS state of one question."""

    bank: str
    question_id: str
    card: dict[str, Any]
    due: str
    reviews: int
    lapses: int
    """Times the question was rated Again."""


@dataclass(frozen=True)
class TopicPoint:
    """Mean score of one topic on one day."""

    day: str
    mean: float
    count: int


class Store:
    """The SQLite store. Thread-safe (one connection behind a lock): the TUI
    calls it from worker threads."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        audio_dir: str | Path | None = None,
        busy_timeout_s: float = 5.0,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = Path(path) if path is not None else paths.database_path()
        if audio_dir is not None:
            self.audio_dir = Path(audio_dir)
        elif path is None:
            self.audio_dir = paths.audio_dir()
        else:
            self.audio_dir = self.path.parent / "audio"
        self.busy_timeout_s = busy_timeout_s
        self.now = now
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    # -- opening, versioning, errors ------------------------------------------------

    def _open(self) -> None:
        try:
            paths.private_dir(self.path.parent)
            paths.private_dir(self.audio_dir)
            if not self.path.exists():
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"cannot create {exc.filename or self.path} ({exc.strerror or exc}); "
                "check the folder's permissions or choose another --data-dir"
            ) from None
        with self._guard("open"):
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            self._conn = conn
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                self._conn = None
                raise StoreError(
                    f"{self.path}: the database was written by a newer version of the "
                    f"trainer (schema {version}, this version knows {SCHEMA_VERSION}); "
                    "upgrade the trainer or choose another --data-dir"
                )
            mode = self._set_wal(conn)
            if str(mode).lower() != "wal":  # pragma: no cover - e.g. a read-only medium
                conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(version)
        self._secure_files()

    def _set_wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL. Changing the journal mode needs the file to itself and
        SQLite does not wait for that, so retry within the busy timeout."""
        import time

        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self, version: int) -> None:
        conn = self._c
        for number in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            # another process may have migrated between our first look and the lock
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("COMMIT")
                continue
            try:
                for statement in _statements(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _secure_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(f"{self.path}{suffix}")
            try:
                if p.exists():
                    p.chmod(0o600)
            except OSError:
                pass

    @property
    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._conn

    @contextmanager
    def _guard(self, action: str, attempt_id: int | None = None) -> Iterator[None]:
        """Turn sqlite3 failures into one-line ``StoreError``s."""
        try:
            yield
        except StoreError:
            raise
        except sqlite3.DatabaseError as exc:  # OperationalError included
            raise self._error(exc, action, attempt_id) from None

    def _error(self, exc: sqlite3.Error, action: str, attempt_id: int | None) -> StoreError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return StoreError(
                f"{self.path}: the database is locked by another process (is the trainer "
                "open elsewhere?); close it and try again"
            )
        if "disk is full" in text or "disk full" in text:
            kept = ""
            if attempt_id is not None:
                kept = f"; the attempt's audio is kept at {self.audio_path_for(attempt_id)}"
            return StoreError(f"{self.path}: the disk is full, could not {action}{kept}; free some space")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                f"{self.path}: the file is not a readable database (corrupt?); move it aside "
                f"(for example to {self.path.name}.broken) and start again - nothing was deleted"
            )
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(f"{self.path}: cannot write the database ({exc}); check its permissions")
        return StoreError(f"{self.path}: could not {action} ({exc})")

    def _run(self, action: str, sql: str, params: Sequence[Any] = (), attempt_id: int | None = None):
        with self._lock, self._guard(action, attempt_id):
            return self._c.execute(sql, params)

    @contextmanager
    def _transaction(self, action: str, attempt_id: int | None = None) -> Iterator[sqlite3.Connection]:
        with self._lock, self._guard(action, attempt_id):
            conn = self._c
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._run("read the schema version", "PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._secure_files()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions --------------------------------------------------------------------

    def create_session(self, mode: str, bank: str, config: dict[str, Any] | None = None) -> SessionInfo:
        started = iso(self.now())
        cur = self._run(
            "start a session",
            "INSERT INTO sessions (mode, bank, started_at, config) VALUES (?, ?, ?, ?)",
            (mode, bank, started, json.dumps(config or {})),
        )
        self._secure_files()
        return self.get_session(int(cur.lastrowid))

    def end_session(self, session_id: int) -> SessionInfo:
        self._run(
            "end the session",
            "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (iso(self.now()), session_id),
        )
        return self.get_session(session_id)

    def set_session_result(self, session_id: int, result: dict[str, Any]) -> None:
        """Keep a finished session's summary (totals) for personal bests."""
        self._run(
            "save the session result",
            "UPDATE sessions SET result = ? WHERE id = ?",
            (json.dumps(result), session_id),
        )

    def best_result(self, key: str, *, exclude: int | None = None) -> float | None:
        """The highest ``total`` of finished sessions whose config ``key``
        matches (rapid rounds: the personal best for the same settings)."""
        rows = self._run(
            "read sessions",
            "SELECT id, config, result FROM sessions WHERE result IS NOT NULL",
        ).fetchall()
        best: float | None = None
        for r in rows:
            if r["id"] == exclude or json.loads(r["config"] or "{}").get("key") != key:
                continue
            total = json.loads(r["result"]).get("total")
            if total is not None and (best is None or total > best):
                best = float(total)
        return best

    def get_session(self, session_id: int) -> SessionInfo:
        row = self._run("read a session", "SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id}; 'interviewer export --all' lists every attempt")
        return _session(row)

    def sessions(self, limit: int | None = None) -> list[SessionInfo]:
        sql = "SELECT * FROM sessions ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_session(r) for r in self._run("list sessions", sql).fetchall()]

    # -- attempts --------------------------------------------------------------------

    def audio_path_for(self, attempt_id: int) -> Path:
        """Where the audio of ``attempt_id`` lives (beside the database)."""
        return self.audio_dir / f"{attempt_id}.wav"

    def begin_attempt(
        self,
        question_id: str,
        *,
        session_id: int | None = None,
        bank: str | None = None,
        state: AttemptState = "recording",
        typed: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Attempt:
        """Create the attempt row (before any audio is recorded)."""
        now = iso(self.now())
        with self._transaction("save the attempt") as conn:
            cur = conn.execute(
                "INSERT INTO attempts (session_id, bank, question_id, state, started_at, updated_at,"
                " typed, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, bank, question_id, state, now, now, int(typed), json.dumps(extra or {})),
            )
            assert cur.lastrowid is not None
            attempt_id = cur.lastrowid
            if not typed:
                conn.execute(
                    "UPDATE attempts SET audio_file = ? WHERE id = ?",
                    (self.audio_path_for(attempt_id).name, attempt_id),
                )
        self._secure_files()
        return self.get_attempt(attempt_id)

    def update_attempt(self, attempt_id: int, **changes: Any) -> Attempt:
        """Change fields of an attempt (names of ``Attempt`` fields)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update attempt fields {sorted(unknown)}")
        if changes:
            cols = []
            values: list[Any] = []
            for name, value in changes.items():
                cols.append(f"{name} = ?")
                values.append(_to_column(name, value))
            cols.append("updated_at = ?")
            values.append(iso(self.now()))
            values.append(attempt_id)
            cur = self._run(
                "save the attempt",
                f"UPDATE attempts SET {', '.join(cols)} WHERE id = ?",
                values,
                attempt_id=attempt_id,
            )
            if cur.rowcount == 0:
                raise StoreError(f"no attempt {attempt_id}")
        return self.get_attempt(attempt_id)

    def record_grade(
        self,
        attempt_id: int,
        *,
        score: float | None,
        assessment: dict[str, Any] | None,
        transcript: str | None = None,
        transcript_edited: bool | None = None,
        grader: str = "",
    ) -> Attempt:
        """Store a grade; an earlier grade of the same attempt moves to its
        ``grade_history`` (see ``grade_history()``) instead of being lost."""
        with self._transaction("save the grade", attempt_id) as conn:
            row = conn.execute(
                "SELECT state, score, assessment, transcript, grade_history, extra, updated_at"
                " FROM attempts WHERE id = ?",
                (attempt_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"no attempt {attempt_id}")
            history = json.loads(row["grade_history"] or "[]")
            if row["state"] == "graded":
                old_extra = json.loads(row["extra"] or "{}")
                earlier: dict[str, Any] = {
                    "score": row["score"],
                    "assessment": json.loads(row["assessment"]) if row["assessment"] else None,
                    "transcript": row["transcript"],
                    "grader": old_extra.get("grader", ""),
                    "graded_at": row["updated_at"],
                }
                graded_followups = conn.execute(
                    "SELECT position, transcript, grade FROM followups"
                    " WHERE attempt_id = ? AND grade IS NOT NULL ORDER BY position",
                    (attempt_id,),
                ).fetchall()
                if graded_followups:
                    earlier["followups"] = [
                        {"position": f["position"], "transcript": f["transcript"],
                         "grade": json.loads(f["grade"])}
                        for f in graded_followups
                    ]
                history.append(earlier)
            extra = json.loads(row["extra"] or "{}")
            extra["grader"] = grader
            sets = {
                "state": "graded",
                "score": score,
                "unprompted_score": score,
                "assessment": json.dumps(assessment) if assessment is not None else None,
                "grade_history": json.dumps(history),
                "extra": json.dumps(extra),
                "updated_at": iso(self.now()),
            }
            if transcript is not None:
                sets["transcript"] = transcript
            if transcript_edited is not None:
                sets["transcript_edited"] = int(transcript_edited)
            conn.execute(
                f"UPDATE attempts SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                (*sets.values(), attempt_id),
            )
        return self.get_attempt(attempt_id)

    def grade_history(self, attempt_id: int) -> list[dict[str, Any]]:
        """Earlier grades of an attempt, oldest first (score, assessment,
        transcript, grader, graded_at)."""
        row = self._run(
            "read the attempt", "SELECT grade_history FROM attempts WHERE id = ?", (attempt_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no attempt {attempt_id}")
        history: list[dict[str, Any]] = json.loads(row["grade_history"] or "[]")
        return history

    def get_attempt(self, attempt_id: int) -> Attempt:
        row = self._run("read the attempt", "SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise StoreError(f"no attempt {attempt_id}")
        return self._attempt(row)

    def attempt_bank(self, attempt_id: int) -> str | None:
        row = self._run("read the attempt", "SELECT bank FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        return None if row is None else row["bank"]

    def attempts(
        self,
        *,
        question_id: str | None = None,
        question_ids: Iterable[str] | None = None,
        session_id: int | None = None,
        bank: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        states: Iterable[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Attempt]:
        """Attempts matching every given filter, in time order. ``since`` is
        inclusive, ``until`` exclusive; a score range leaves out ungraded rows."""
        where: list[str] = []
        params: list[Any] = []
        if question_id is not None:
            where.append("question_id = ?")
            params.append(question_id)
        if question_ids is not None:
            ids = list(question_ids)
            if not ids:
                return []
            where.append(f"question_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if bank is not None:
            where.append("(bank = ? OR bank IS NULL)")
            params.append(bank)
        if since is not None:
            where.append("started_at >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("started_at < ?")
            params.append(iso(until))
        if min_score is not None:
            where.append("score >= ?")
            params.append(min_score)
        if max_score is not None:
            where.append("score <= ?")
            params.append(max_score)
        if states is not None:
            st = list(states)
            where.append(f"state IN ({', '.join('?' * len(st))})")
            params.extend(st)
        sql = "SELECT * FROM attempts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY started_at {order}, id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._attempt(r) for r in self._run("list attempts", sql, params).fetchall()]

    def attempts_for_topic(self, bank: Any, topic: str, **filters: Any) -> list[Attempt]:
        """Attempts at the questions of ``bank`` tagged ``topic``."""
        ids = [q.id for q in bank.questions if topic in q.topics]
        return self.attempts(question_ids=ids, **filters)

    def question_history(self, question_id: str) -> list[Attempt]:
        """Graded attempts of one question, oldest first (score over time)."""
        return self.attempts(question_id=question_id, states=("graded",))

    def recent_scores(self, last: int = 3, bank: str | None = None) -> dict[str, float]:
        """Mean of each question's ``last`` graded scores (no-speech excluded)."""
        sql = (
            "SELECT question_id, score FROM attempts WHERE state = 'graded' AND score IS NOT NULL"
        )
        params: list[Any] = []
        if bank is not None:
            sql += " AND (bank = ? OR bank IS NULL)"
            params.append(bank)
        sql += " ORDER BY started_at DESC, id DESC"
        seen: dict[str, list[float]] = {}
        for row in self._run("read scores", sql, params).fetchall():
            scores = seen.setdefault(row["question_id"], [])
            if len(scores) < last:
                scores.append(float(row["score"]))
        return {q: sum(s) / len(s) for q, s in seen.items()}

    def topic_progress(self, bank: Any, tz: timezone | None = None) -> dict[str, list[TopicPoint]]:
        """Per topic of ``bank``: the mean graded score per day, oldest first."""
        topics_of = {q.id: q.topics for q in bank.questions}
        by: dict[str, dict[str, list[float]]] = {}
        for a in self.attempts(question_ids=list(topics_of), states=("graded",)):
            if a.score is None:
                continue
            day = _local_day(a.started_at, tz).isoformat()
            for topic in topics_of.get(a.question_id, ()):
                by.setdefault(topic, {}).setdefault(day, []).append(a.score)
        return {
            topic: [TopicPoint(d, sum(v) / len(v), len(v)) for d, v in sorted(days.items())]
            for topic, days in sorted(by.items())
        }

    def streak(self, today: date | None = None, tz: timezone | None = None) -> int:
        """Consecutive days with at least one answered attempt, ending today
        (or yesterday, when nothing was answered yet today)."""
        rows = self._run(
            "read attempts",
            "SELECT started_at FROM attempts WHERE state IN ('graded', 'transcribed', 'recorded')",
        ).fetchall()
        days = {_local_day(r["started_at"], tz) for r in rows}
        if today is None:
            today = self.now().astimezone(tz).date()
        day = today if today in days else today - timedelta(days=1)
        count = 0
        while day in days:
            count += 1
            day -= timedelta(days=1)
        return count

    def interrupted_attempts(self) -> list[Attempt]:
        """Rows left in "recording", "recorded" or "transcribed" whose audio
        is on disk (a crash or a closed terminal mid-answer), oldest first."""
        out = []
        for a in self.attempts(states=INTERRUPTED_STATES):
            if a.audio_path and Path(a.audio_path).exists() and Path(a.audio_path).stat().st_size > 44:
                out.append(a)
        return out

    # -- follow-ups ----------------------------------------------------------------------

    def followup_audio_path(self, attempt_id: int, position: int) -> Path:
        """Where the audio of an attempt's follow-up lives (beside the answer's)."""
        return self.audio_dir / f"{attempt_id}-followup-{position}.wav"

    def begin_followup(
        self,
        attempt_id: int,
        *,
        position: int,
        key_point: int,
        key_point_text: str,
        prompt: str,
        state: AttemptState = "recording",
        typed: bool = False,
        audio: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> FollowUp:
        """Create a follow-up row of ``attempt_id`` (before any audio is
        recorded); a typed reply, or one never given (``audio=False``), has no audio."""
        now = iso(self.now())
        audio_file = self.followup_audio_path(attempt_id, position).name if audio and not typed else None
        with self._transaction("save the follow-up", attempt_id) as conn:
            cur = conn.execute(
                "INSERT INTO followups (attempt_id, position, key_point, key_point_text, prompt,"
                " state, started_at, updated_at, audio_file, typed, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt_id, position, key_point, key_point_text, prompt, state, now, now,
                 audio_file, int(typed), json.dumps(extra or {})),
            )
            assert cur.lastrowid is not None
            followup_id = cur.lastrowid
        self._secure_files()
        return self.get_followup(followup_id)

    def update_followup(self, followup_id: int, **changes: Any) -> FollowUp:
        """Change fields of a follow-up (names of ``FollowUp`` fields)."""
        unknown = set(changes) - _FOLLOWUP_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update follow-up fields {sorted(unknown)}")
        cols = [f"{name} = ?" for name in changes] + ["updated_at = ?"]
        values = [_followup_column(name, value) for name, value in changes.items()]
        cur = self._run(
            "save the follow-up",
            f"UPDATE followups SET {', '.join(cols)} WHERE id = ?",
            [*values, iso(self.now()), followup_id],
        )
        if cur.rowcount == 0:
            raise StoreError(f"no follow-up {followup_id}")
        return self.get_followup(followup_id)

    def get_followup(self, followup_id: int) -> FollowUp:
        row = self._run(
            "read the follow-up", "SELECT * FROM followups WHERE id = ?", (followup_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no follow-up {followup_id}")
        return self._followup(row)

    def followups(self, attempt_id: int) -> list[FollowUp]:
        """The follow-ups of an attempt, in the order they were asked."""
        rows = self._run(
            "read the follow-ups",
            "SELECT * FROM followups WHERE attempt_id = ? ORDER BY position, id",
            (attempt_id,),
        ).fetchall()
        return [self._followup(r) for r in rows]

    def interrupted_followups(self) -> list[FollowUp]:
        """Follow-ups left "recording", "recorded" or "transcribed" whose
        audio is on disk (or typed and not graded), oldest first."""
        marks = ", ".join("?" * len(INTERRUPTED_STATES))
        rows = self._run(
            "read the follow-ups",
            f"SELECT * FROM followups WHERE state IN ({marks}) ORDER BY started_at, id",
            INTERRUPTED_STATES,
        ).fetchall()
        out = []
        for f in map(self._followup, rows):
            if f.typed and f.transcript:
                out.append(f)
            elif f.audio_path and Path(f.audio_path).exists() and Path(f.audio_path).stat().st_size > 44:
                out.append(f)
        return out

    def _followup(self, row: sqlite3.Row) -> FollowUp:
        audio = row["audio_file"]
        return FollowUp(
            id=row["id"],
            attempt_id=row["attempt_id"],
            position=row["position"],
            key_point=row["key_point"],
            key_point_text=row["key_point_text"],
            prompt=row["prompt"],
            state=row["state"],
            started_at=row["started_at"],
            audio_path=str(self.audio_dir / audio) if audio else None,
            duration_s=row["duration_s"],
            transcript=row["transcript"],
            typed=bool(row["typed"]),
            grade=json.loads(row["grade"]) if row["grade"] else None,
            answer_time_s=row["answer_time_s"],
            error=row["error"],
            extra=json.loads(row["extra"] or "{}"),
        )

    # -- scheduling state -------------------------------------------------------------

    def get_card(self, bank: str, question_id: str) -> CardRow | None:
        row = self._run(
            "read the schedule",
            "SELECT * FROM cards WHERE bank = ? AND question_id = ?",
            (bank, question_id),
        ).fetchone()
        return None if row is None else _card(row)

    def put_card(
        self,
        bank: str,
        question_id: str,
        card: Mapping[str, Any],
        due: datetime,
        *,
        rating: int,
        failed: bool,
        attempt_id: int | None = None,
        reviewed_at: datetime | None = None,
        log: Mapping[str, Any] | None = None,
    ) -> CardRow:
        """Save a card after a review and log the review."""
        when = iso(reviewed_at or self.now())
        with self._transaction("save the schedule") as conn:
            conn.execute(
                "INSERT INTO cards (bank, question_id, card, due, reviews, lapses)"
                " VALUES (?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (bank, question_id) DO UPDATE SET card = excluded.card,"
                " due = excluded.due, reviews = reviews + 1, lapses = lapses + excluded.lapses",
                (bank, question_id, json.dumps(card), iso(due), int(failed)),
            )
            conn.execute(
                "INSERT INTO reviews (bank, question_id, attempt_id, rating, reviewed_at, log)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (bank, question_id, attempt_id, rating, when, json.dumps(log or {})),
            )
        card_row = self.get_card(bank, question_id)
        assert card_row is not None
        return card_row

    def cards(self, bank: str) -> list[CardRow]:
        rows = self._run(
            "read the schedule", "SELECT * FROM cards WHERE bank = ? ORDER BY due, question_id", (bank,)
        ).fetchall()
        return [_card(r) for r in rows]

    def due_count(self, bank: str, now: datetime | None = None) -> int:
        row = self._run(
            "read the schedule",
            "SELECT COUNT(*) AS n FROM cards WHERE bank = ? AND due <= ?",
            (bank, iso(now or self.now())),
        ).fetchone()
        return int(row["n"])

    def reviews(self, bank: str, question_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM reviews WHERE bank = ?"
        params: list[Any] = [bank]
        if question_id is not None:
            sql += " AND question_id = ?"
            params.append(question_id)
        sql += " ORDER BY reviewed_at, id"
        return [
            {**dict(r), "log": json.loads(r["log"] or "{}")}
            for r in self._run("read reviews", sql, params).fetchall()
        ]

    # -- rows <-> values --------------------------------------------------------------

    def _attempt(self, row: sqlite3.Row) -> Attempt:
        audio = row["audio_file"]
        return Attempt(
            id=row["id"],
            session_id=row["session_id"],
            question_id=row["question_id"],
            state=row["state"],
            started_at=row["started_at"],
            audio_path=str(self.audio_dir / audio) if audio else None,
            duration_s=row["duration_s"],
            transcript=row["transcript"],
            transcript_edited=bool(row["transcript_edited"]),
            typed=bool(row["typed"]),
            score=row["score"],
            unprompted_score=row["unprompted_score"],
            assessment=json.loads(row["assessment"]) if row["assessment"] else None,
            delivery=json.loads(row["delivery"]) if row["delivery"] else None,
            answer_time_s=row["answer_time_s"],
            error=row["error"],
            extra=json.loads(row["extra"] or "{}"),
        )

    def row(self, attempt_id: int) -> dict[str, Any]:
        """The full stored row of an attempt (for JSON export), JSON columns decoded."""
        r = self._run("read the attempt", "SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if r is None:
            raise StoreError(f"no attempt {attempt_id}")
        decoded = _decode_row(r)
        followups = self._run(
            "read the follow-ups",
            "SELECT * FROM followups WHERE attempt_id = ? ORDER BY position, id",
            (attempt_id,),
        ).fetchall()
        decoded["followups"] = [_decode_followup(f) for f in followups]
        return decoded

    def rows(self, attempts: Iterable[Attempt]) -> list[dict[str, Any]]:
        return [self.row(a.id) for a in attempts]


def _decode_row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    for name in (*_JSON_FIELDS, "grade_history"):
        if d.get(name):
            d[name] = json.loads(d[name])
    d["typed"] = bool(d["typed"])
    d["transcript_edited"] = bool(d["transcript_edited"])
    return d


def _decode_followup(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    for name in _FOLLOWUP_JSON:
        if d.get(name):
            d[name] = json.loads(d[name])
    d["typed"] = bool(d["typed"])
    return d


def _followup_column(name: str, value: Any) -> Any:
    if name in _FOLLOWUP_JSON:
        return None if value is None else json.dumps(value)
    if name == "typed":
        return int(bool(value))
    return value


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return None if value is None else json.dumps(value)
    if name in ("typed", "transcript_edited"):
        return int(bool(value))
    return value


def _session(row: sqlite3.Row) -> SessionInfo:
    return SessionInfo(
        id=row["id"],
        mode=row["mode"],
        bank=row["bank"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        config=json.loads(row["config"] or "{}"),
    )


def _card(row: sqlite3.Row) -> CardRow:
    return CardRow(
        bank=row["bank"],
        question_id=row["question_id"],
        card=json.loads(row["card"]),
        due=row["due"],
        reviews=row["reviews"],
        lapses=row["lapses"],
    )


def _local_day(text: str, tz: timezone | None) -> date:
    return parse_iso(text).astimezone(tz).date()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
