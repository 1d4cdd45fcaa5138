"""Write N graded attempts to the store as fast as possible (one of several
processes doing so at once). Prints ``DONE <ids>``.

With ``--announce-version-read`` it also prints ``PHASE version-read`` once
the store has read the schema version and moved on to its next statement (the
one a first-open race makes it wait at)."""

from __future__ import annotations

import os
import sqlite3
import sys

sys.path.insert(0, os.getcwd())


def announce_version_read() -> None:
    """Trace the store's connection: the statement after ``PRAGMA
    user_version`` starts only once the version has been read."""
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        seen: list[str] = []

        def trace(sql: str) -> None:
            if seen == ["version"]:
                seen.append("announced")
                print("PHASE version-read", flush=True)
            elif not seen and "user_version" in sql.lower():
                seen.append("version")

        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = traced


def main() -> int:
    if "--announce-version-read" in sys.argv:
        sys.argv.remove("--announce-version-read")
        announce_version_read()
    tag, count = sys.argv[1], int(sys.argv[2])
    from interviewer.session.store import Store, StoreError

    ids = []
    try:
        with Store(busy_timeout_s=30.0) as store:
            session = store.create_session("practice", "faults", {"writer": tag})
            for i in range(count):
                a = store.begin_attempt(f"{tag}-{i}", session_id=session.id, bank="faults")
                store.update_attempt(a.id, state="transcribed", transcript=f"answer {tag} {i}")
                store.record_grade(a.id, score=(i % 10) / 10, assessment={"n": i}, grader="writer")
                ids.append(a.id)
    except StoreError as exc:
        print(f"interviewer: {exc}", file=sys.stderr)
        return 2
    print("DONE " + ",".join(map(str, ids)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
