"""Word error rate, shared by the benchmarks and the end-to-end tests."""

from __future__ import annotations

import re


def words(text: str) -> list[str]:
    """Lower-case words; hyphens and punctuation split or vanish."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length."""
    r, h = words(reference), words(hypothesis)
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        diag, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (rw != hw))
    return row[len(h)] / max(1, len(r))
