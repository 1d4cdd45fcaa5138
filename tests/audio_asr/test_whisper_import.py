"""openai-whisper imports without numba (:mod:`audio.whisper_import`).

Each check runs in a fresh interpreter with ``import numba`` blocked, so the
stand-in path is the one exercised even where numba happens to be installed.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from audio import whisper_import

pytestmark = pytest.mark.slow


def _run(code: str) -> dict:
    prelude = "import sys, json\nsys.modules['numba'] = None  # blocked: as if not installed\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_numba_a_plain_import_fails_and_load_succeeds() -> None:
    got = _run(
        """
        try:
            import whisper
            plain = "imported"
        except ImportError as exc:
            plain = type(exc).__name__
        for name in [m for m in sys.modules if m == "whisper" or m.startswith("whisper.")]:
            del sys.modules[name]
        from audio import whisper_import
        whisper = whisper_import.load()
        from whisper.model import Whisper
        try:
            import numba
            after = "numba visible"
        except ImportError:
            after = "blocked"
        print(json.dumps({"plain": plain, "models": whisper.available_models()[:1],
                          "after": after, "same": whisper_import.load() is whisper}))
        """
    )
    assert got["plain"] in ("ImportError", "ModuleNotFoundError")
    assert got["models"] == ["tiny.en"]
    assert got["after"] == "blocked", "the stand-in is gone once whisper is imported"
    assert got["same"]


def _reference_dtw(x: np.ndarray) -> list[list[int]]:
    """Textbook dynamic time warping with whisper's tie-breaking (diagonal,
    then down, then right), returning the path as two index rows."""
    n, m = x.shape
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    step = np.zeros((n + 1, m + 1), dtype=int)
    for j in range(1, m + 1):
        for i in range(1, n + 1):
            c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            cost[i, j] = x[i - 1, j - 1] + c
            step[i, j] = t
    step[0, :], step[:, 0] = 2, 1
    i, j, path = n, m, []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        i, j = (i - 1, j - 1) if step[i, j] == 0 else (i - 1, j) if step[i, j] == 1 else (i, j - 1)
    rows = np.array(path[::-1]).T
    return rows.tolist()


def test_word_timing_helpers_still_compute_the_right_alignment() -> None:
    rng = np.random.default_rng(7)
    matrices = [rng.random((n, m)).astype(np.float32) for n, m in ((3, 3), (5, 9), (8, 4))]
    got = _run(
        f"""
        import numpy as np
        from audio import whisper_import
        whisper_import.load()
        from whisper import timing
        xs = {[x.tolist() for x in matrices]!r}
        print(json.dumps([timing.dtw_cpu(np.array(x, dtype=np.float32)).tolist() for x in xs]))
        """
    )
    assert got == [_reference_dtw(x) for x in matrices]


def test_the_stand_in_jit_keeps_the_function() -> None:
    def f(a: int) -> int:
        return a + 1

    jit = whisper_import.stand_in().jit
    assert jit(f) is f
    assert jit(nopython=True, parallel=True)(f) is f


def _imports_whisper(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "whisper" or a.name.startswith("whisper.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        mod = node.module or ""
        return node.level == 0 and (mod == "whisper" or mod.startswith("whisper."))
    return False


def _calls_load(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "whisper_import"
    )


def test_every_whisper_import_of_the_project_comes_after_load() -> None:
    """Inside a function, ``whisper_import.load()`` runs before any
    ``import whisper``/``from whisper...``; at module level only
    ``if TYPE_CHECKING:`` imports are allowed (they never run)."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("audio", "questions", "interviewer"):
        for path in sorted((root / package).rglob("*.py")):
            if path.name == "whisper_import.py":
                continue
            tree = ast.parse(path.read_text(), str(path))
            for stmt in tree.body:
                if _imports_whisper(stmt):
                    offenders.append(f"{path.relative_to(root)}:{stmt.lineno} at module level")
            for fn in ast.walk(tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                loaded_at = min(
                    (n.lineno for n in ast.walk(fn) if _calls_load(n)), default=None
                )
                for n in ast.walk(fn):
                    if _imports_whisper(n) and (loaded_at is None or n.lineno < loaded_at):
                        offenders.append(f"{path.relative_to(root)}:{n.lineno}")
    assert not offenders, offenders
