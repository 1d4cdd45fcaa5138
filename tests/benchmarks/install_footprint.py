"""How big the installed trainer is and how long it takes to start grading.

Run::

    python -m tests.benchmarks.install_footprint [--quick] [--json] [--runs N]

Two figures:

* **Run-time environment size**: the project's ``[project] dependencies``
  (without the test and static groups), followed recursively through each
  installed distribution's own requirements, each distribution's recorded
  files summed (``importlib.metadata``). Packages the set-up script installs
  without their declared dependencies (``interviewer.bootstrap.NO_DEPS``) are
  not followed, and requirements that are not installed are skipped, so the
  figure is what ``python3 -m interviewer.bootstrap run`` puts on disk for
  the trainer (pip and setuptools excluded). The ten largest are listed.
* **Cold start**: a fresh ``interviewer score`` process on a short WAV (the
  JFK clip in ``tests/data``), speech model and grader loaded from scratch.
  One untimed run first builds the converted speech model if it is missing
  and warms the disk cache; then the median wall time of the timed runs and
  the load time the command itself reports (``timings.load_s``).

With ``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_MB = 1400.0
"""The run-time environment should stay at or below this (ideally 1200 MB)."""
CLIP = ROOT / "tests" / "data" / "jfk.flac"
BEFORE_MB, BEFORE_COLD_S = 1800.0, 3.9
"""The same figures before the lean install (the environment then held the
sentence-transformers stack, torch's compiler dependencies and numba), as
measured on a fresh checkout and in CI; that environment cannot be rebuilt
in the same run, so they are printed for comparison, not re-measured."""


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    bytes: int


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(spec: str):
    try:
        from packaging.requirements import Requirement
    except ImportError:  # the run-time environment: pip's own copy
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    return Requirement(spec)


def _applies(req) -> bool:
    """True when the requirement holds here without any extra."""
    if req.marker is None:
        return True
    try:
        return bool(req.marker.evaluate({"extra": ""}))
    except Exception:  # noqa: BLE001 - an unusual marker: count it
        return True


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def _no_deps() -> set[str]:
    try:
        from interviewer.bootstrap import NO_DEPS
    except ImportError:
        return set()
    return {_canon(n) for n in NO_DEPS}


def closure(requirements: Iterable[str], no_deps: set[str] | None = None) -> dict[str, md.Distribution]:
    """Installed distributions reachable from ``requirements`` (canonical name -> dist)."""
    skip_children = _no_deps() if no_deps is None else no_deps
    found: dict[str, md.Distribution] = {}
    todo = [_requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = _canon(req.name)
        if key in found or not _applies(req):
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        found[key] = dist
        if key in skip_children:
            continue
        for child in dist.requires or []:
            r = _requirement(child)
            if _applies(r):
                todo.append(r)
    return found


def dist_bytes(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        try:
            total += os.path.getsize(dist.locate_file(f))
        except OSError:
            pass
    return total


def footprint(requirements: Iterable[str] | None = None) -> list[Dist]:
    """Run-time closure, largest first."""
    reqs = project_requirements() if requirements is None else list(requirements)
    rows = [
        Dist(d.metadata["Name"], d.version, dist_bytes(d)) for d in closure(reqs).values()
    ]
    return sorted(rows, key=lambda d: (-d.bytes, d.name.lower()))


def _short_wav(folder: Path) -> Path:
    import soundfile as sf

    data, rate = sf.read(str(CLIP), dtype="float32")
    out = folder / "answer.wav"
    sf.write(str(out), data, rate, subtype="PCM_16")
    return out


def _first_question() -> str:
    import questions

    return questions.default_bank().questions[0].id


def cold_start(runs: int) -> dict[str, object]:
    """Median wall time of fresh ``interviewer score`` processes on a short WAV."""
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        folder = Path(tmp)
        wav = _short_wav(folder)
        env = dict(os.environ)
        env.update(
            INTERVIEWER_DATA_DIR=str(folder / "data"),
            INTERVIEWER_CONFIG_DIR=str(folder / "config"),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        cmd = [sys.executable, "-m", "interviewer", "score", str(wav),
               "--question", _first_question(), "--json"]  # fmt: skip
        walls: list[float] = []
        loads: list[float] = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"interviewer score failed ({r.returncode}): {tail[0]}")
            if i == 0:
                continue  # warm-up: converted model built, files in the page cache
            walls.append(wall)
            loads.append(float(json.loads(r.stdout.strip().splitlines()[-1])["timings"]["load_s"]))
    return {
        "cold_start_s": round(statistics.median(walls), 2),
        "cold_load_s": round(statistics.median(loads), 2),
        "cold_start_runs": [round(w, 2) for w in walls],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.install_footprint", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="one timed cold start instead of three")
    ap.add_argument("--runs", type=int, help="timed cold starts (default 3, 1 with --quick)")
    ap.add_argument("--no-start", action="store_true", help="only the environment size")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args(argv)

    rows = footprint()
    total = sum(d.bytes for d in rows)
    mb = total / 1e6
    verdict = "within" if mb <= TARGET_MB else "OVER"
    print(f"run-time environment: {mb:.0f} MB in {len(rows)} distributions "
          f"({verdict} the {TARGET_MB:.0f} MB target; {BEFORE_MB:.0f} MB before the lean "
          f"install, x{mb / BEFORE_MB:.2f})")  # fmt: skip
    for d in rows[:10]:
        print(f"  {d.bytes / 1e6:7.1f} MB  {d.name} {d.version}")
    result: dict[str, object] = {
        "env_mb": round(mb, 1),
        "distributions": len(rows),
        "target_mb": TARGET_MB,
        "within_target": mb <= TARGET_MB,
        "largest": [{"name": d.name, "version": d.version, "mb": round(d.bytes / 1e6, 1)}
                    for d in rows[:10]],  # fmt: skip
        "installed": sorted(d.name for d in rows),
    }
    status = 0
    if not args.no_start:
        runs = args.runs or (1 if args.quick else 3)
        try:
            result.update(cold_start(max(1, runs)))
            print(f"cold start of 'interviewer score' (median of {runs}): "
                  f"{result['cold_start_s']:.2f} s, of which loading {result['cold_load_s']:.2f} s "
                  f"({BEFORE_COLD_S} s before the lean install, "
                  f"x{float(result['cold_start_s']) / BEFORE_COLD_S:.2f})")  # fmt: skip
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            print(f"cold start: {exc}")
            result["cold_start_error"] = str(exc)
            status = 1
    if args.json:
        print(json.dumps(result))
    return status


if __name__ == "__main__":
    sys.exit(main())
