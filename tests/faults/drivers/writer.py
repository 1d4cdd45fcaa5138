"""Write N graded attempts to the store as fast as possible (one of several
processes doing so at once). Prints ``DONE <ids>``."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())


def main() -> int:
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
