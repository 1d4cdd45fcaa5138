"""Take the interactive trainer's instance lock, say so, and hold it."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.getcwd())

from interviewer.instance import AnotherInstance, InstanceLock  # noqa: E402

try:
    lock = InstanceLock().acquire()
except AnotherInstance as exc:
    print(f"interviewer: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)
print("PHASE locked", flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 60)
lock.release()
