"""The SQLite store on real files: versioning, permissions, failures, queries."""

from __future__ import annotations

import sqlite3
import stat
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from interviewer import paths
from interviewer.session.store import SCHEMA_VERSION, Store, StoreError
from tests.session.fakes import sample_bank, tone

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Wall:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_default_location_follows_paths_and_everything_is_private(tmp_path):
    with Store() as store:
        assert store.path == paths.database_path()
        assert store.audio_dir == paths.audio_dir()
        store.begin_attempt("q1")
        assert mode(paths.data_dir()) == 0o700
        assert mode(paths.audio_dir()) == 0o700
        for suffix in ("", "-wal", "-shm"):
            f = Path(f"{store.path}{suffix}")
            assert f.exists(), suffix
            assert mode(f) == 0o600, suffix
        assert store.schema_version == SCHEMA_VERSION
        journal = store._c.execute("PRAGMA journal_mode").fetchone()[0]
        assert journal == "wal"


def test_empty_file_and_v0_database_are_migrated(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    with Store(empty) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.begin_attempt("q1").id == 1
    v0 = tmp_path / "v0.sqlite3"
    conn = sqlite3.connect(v0)
    conn.execute("CREATE TABLE unrelated (x)")
    conn.commit()
    conn.close()
    with Store(v0) as s:
        assert s.schema_version == SCHEMA_VERSION
        tables = {r[0] for r in s._c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "attempts", "cards", "reviews", "unrelated"} <= tables
    # opening again does not re-run migrations
    with Store(v0) as s:
        assert s.schema_version == SCHEMA_VERSION


def test_future_version_is_refused_with_a_clear_error(tmp_path):
    db = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="database was written by a newer version") as err:
        Store(db)
    assert str(db) in str(err.value)
    assert db.exists()


def test_corrupt_file_names_the_file_and_is_never_deleted(tmp_path):
    db = tmp_path / "broken.sqlite3"
    junk = b"this is not sqlite at all " * 400
    db.write_bytes(junk)
    with pytest.raises(StoreError, match="move it aside") as err:
        Store(db)
    assert str(db) in str(err.value)
    assert db.read_bytes() == junk


def test_locked_database_fails_quickly_with_a_clear_error(tmp_path):
    db = tmp_path / "locked.sqlite3"
    Store(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        store = Store(db, busy_timeout_s=0.2)
        t = time.monotonic()
        with pytest.raises(StoreError, match="locked by another process"):
            store.begin_attempt("q1")
        assert time.monotonic() - t < 3.0
    finally:
        other.execute("ROLLBACK")
        other.close()
    # once the other process lets go, the same store works
    assert store.begin_attempt("q1").state == "recording"
    store.close()


def test_disk_full_keeps_the_audio_and_says_so(tmp_path):
    store = Store(tmp_path / "full.sqlite3")
    attempt = store.begin_attempt("q1")
    from audio.clip import write_wav

    write_wav(attempt.audio_path, tone(0.5))
    pages = store._c.execute("PRAGMA page_count").fetchone()[0]
    store._c.execute(f"PRAGMA max_page_count = {pages + 1}")  # a full disk, for SQLite
    with pytest.raises(StoreError, match="disk is full") as err:
        store.update_attempt(attempt.id, transcript="word " * 200_000)
    assert "audio is kept" in str(err.value) and attempt.audio_path in str(err.value)
    assert Path(attempt.audio_path).exists()
    store.close()


def test_attempt_lifecycle_json_columns_and_grade_history(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    session = store.create_session("practice", "sample", {"count": 3})
    a = store.begin_attempt("q1", session_id=session.id, bank="sample")
    assert a.state == "recording" and a.audio_path == str(store.audio_dir / f"{a.id}.wav")
    a = store.update_attempt(a.id, state="recorded", duration_s=3.5, extra={"k": [1, 2]})
    assert a.extra == {"k": [1, 2]} and a.duration_s == 3.5
    a = store.update_attempt(a.id, state="transcribed", transcript="hello", delivery={"wpm": 120.0})
    a = store.record_grade(a.id, score=0.4, assessment={"score": 0.4}, grader="g1")
    a = store.record_grade(a.id, score=0.9, assessment={"score": 0.9}, transcript="hello world", transcript_edited=True, grader="g2")
    assert (a.state, a.score, a.transcript, a.transcript_edited) == ("graded", 0.9, "hello world", True)
    assert a.assessment == {"score": 0.9} and a.delivery == {"wpm": 120.0}
    assert [(h["score"], h["grader"], h["transcript"]) for h in store.grade_history(a.id)] == [(0.4, "g1", "hello")]
    with pytest.raises(ValueError):
        store.update_attempt(a.id, id=5)
    with pytest.raises(StoreError, match="no attempt 999"):
        store.get_attempt(999)
    row = store.row(a.id)
    assert row["grade_history"][0]["score"] == 0.4 and row["bank"] == "sample"
    store.close()


def test_interrupted_attempts_need_audio_on_disk(tmp_path):
    from audio.clip import write_wav

    store = Store(tmp_path / "i.sqlite3")
    with_audio = store.begin_attempt("q1")
    write_wav(with_audio.audio_path, tone(1.0))
    store.begin_attempt("q2")  # crashed before any audio was written
    recorded = store.begin_attempt("q3")
    write_wav(recorded.audio_path, tone(1.0))
    store.update_attempt(recorded.id, state="recorded")
    done = store.begin_attempt("q4")
    write_wav(done.audio_path, tone(1.0))
    store.update_attempt(done.id, state="skipped")
    assert [a.question_id for a in store.interrupted_attempts()] == ["q1", "q3"]
    store.close()


def _graded(store, wall, qid, score, when):
    wall.t = when
    a = store.begin_attempt(qid, bank="sample")
    return store.record_grade(a.id, score=score, assessment={"score": score})


def test_review_queries(tmp_path):
    wall = Wall()
    store = Store(tmp_path / "q.sqlite3", now=wall)
    bank = sample_bank()
    day = timedelta(days=1)
    _graded(store, wall, "q1", 0.2, T0)
    _graded(store, wall, "q1", 0.6, T0 + day)
    _graded(store, wall, "q2", 0.9, T0 + day)
    _graded(store, wall, "q3", 0.5, T0 + 2 * day)
    _graded(store, wall, "q1", None, T0 + 2 * day)  # no speech
    assert [a.score for a in store.question_history("q1")] == [0.2, 0.6, None]
    assert [a.question_id for a in store.attempts_for_topic(bank, "alpha")] == ["q1", "q1", "q2", "q1"]
    assert [a.question_id for a in store.attempts_for_topic(bank, "beta")] == ["q3"]
    since = store.attempts(since=T0 + day, until=T0 + 2 * day)
    assert sorted(a.question_id for a in since) == ["q1", "q2"]
    assert [a.score for a in store.attempts(min_score=0.5, max_score=0.8)] == [0.6, 0.5]
    assert store.recent_scores(last=2) == pytest.approx({"q1": 0.4, "q2": 0.9, "q3": 0.5})
    progress = store.topic_progress(bank, tz=timezone.utc)
    assert [(p.day, round(p.mean, 2), p.count) for p in progress["alpha"]] == [
        ("2026-03-02", 0.2, 1),
        ("2026-03-03", 0.75, 2),
    ]
    assert [p.day for p in progress["beta"]] == ["2026-03-04"]
    assert store.streak(date(2026, 3, 4), tz=timezone.utc) == 3
    assert store.streak(date(2026, 3, 5), tz=timezone.utc) == 3  # today not yet practised
    assert store.streak(date(2026, 3, 6), tz=timezone.utc) == 0
    store.close()


def test_sessions_and_personal_best(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    a = store.create_session("rapid", "sample", {"key": "k1"})
    b = store.create_session("rapid", "sample", {"key": "k1"})
    c = store.create_session("rapid", "sample", {"key": "k2"})
    store.set_session_result(a.id, {"total": 3.5})
    store.set_session_result(b.id, {"total": 2.0})
    store.set_session_result(c.id, {"total": 9.0})
    assert store.best_result("k1") == 3.5
    assert store.best_result("k1", exclude=a.id) == 2.0
    assert store.best_result("k3") is None
    ended = store.end_session(a.id)
    assert ended.ended_at is not None and store.get_session(a.id).config == {"key": "k1"}
    assert [s.id for s in store.sessions()][0] == c.id
    with pytest.raises(StoreError, match="no session"):
        store.get_session(42)
    store.close()


def test_uncreatable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StoreError, match="cannot create .*not-a-folder"):
        Store(blocker / "sub" / "attempts.sqlite3")
    assert blocker.read_text().startswith("a file")
