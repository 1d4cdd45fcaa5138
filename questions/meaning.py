"""Where an answer says something: clauses, sentences and the spans between.

The matcher judges a key point by meaning as well as by words: each span of
the answer (a clause, two or three neighbouring clauses, a sentence) is
compared, as a whole, with the key point's text and its example sentences.
This module cuts the answer into those spans and pools their vectors; it
knows nothing about rubrics.

Spans follow the punctuation a person typed or the recogniser wrote; a long
stretch with no punctuation (a transcript of someone who never paused) is
cut into overlapping windows of about a clause's length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from questions import normalize as nz

_SENTENCE_END = re.compile(r"[.;!?]")
_CLAUSE_END = re.compile(r"[,:()\u2014\u2013]| - ")

CLAUSE_OPENERS = frozenset(
    "but because whereas although though while which so instead unlike since then until "
    "unless".split()
)
"""Words that open a new clause when no comma was written before them."""
MIN_CLAUSE_WORDS = 4
"""A shorter clause is joined to its neighbour: "so, basically," says nothing alone."""
WINDOW_WORDS = 14
"""Length of the windows cut from a stretch with no punctuation."""
MAX_SPAN_WORDS = 45
"""Longest span compared as a whole."""
SPAN_CLAUSES = 3
"""Most neighbouring clauses joined into one span."""
PART_WORDS = 8
"""A clause longer than twice this is also read in overlapping parts of this
length: one clause can state two key points ("merges the most frequent pair
into a new token until the vocabulary reaches its size")."""


@dataclass(frozen=True)
class Span:
    """Tokens ``start`` to ``end`` (exclusive) of the answer."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


def _gap(text: str, toks: Sequence[nz.Token], i: int) -> str:
    return text[toks[i].end : toks[i + 1].start] if i + 1 < len(toks) else "."


def sentences(text: str, toks: Sequence[nz.Token]) -> list[Span]:
    """The answer's sentences (by ., ;, !, ?)."""
    out: list[Span] = []
    start = 0
    for i in range(len(toks)):
        if i + 1 == len(toks) or _SENTENCE_END.search(_gap(text, toks, i)):
            out.append(Span(start, i + 1))
            start = i + 1
    return out


def clauses(text: str, toks: Sequence[nz.Token]) -> list[Span]:
    """The answer's clauses: sentences cut at commas, colons, dashes and at
    clause-opening words; short pieces joined to the previous one (or the
    next, at a sentence start); unpunctuated stretches cut into windows."""
    out: list[Span] = []
    for sent in sentences(text, toks):
        cuts = [sent.start]
        for i in range(sent.start, sent.end - 1):
            if _CLAUSE_END.search(_gap(text, toks, i)) or toks[i + 1].norm in CLAUSE_OPENERS:
                cuts.append(i + 1)
        cuts.append(sent.end)
        pieces = [Span(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
        merged: list[Span] = []
        for p in pieces:
            if merged and (len(p) < MIN_CLAUSE_WORDS or len(merged[-1]) < MIN_CLAUSE_WORDS):
                merged[-1] = Span(merged[-1].start, p.end)
            else:
                merged.append(p)
        for p in merged:
            out.extend(_windows(p))
    return out


def _windows(span: Span) -> list[Span]:
    if len(span) <= 2 * WINDOW_WORDS:
        return [span]
    step = WINDOW_WORDS // 2
    out = [
        Span(a, min(span.end, a + WINDOW_WORDS))
        for a in range(span.start, span.end - step, step)
    ]
    return out


def spans(text: str, toks: Sequence[nz.Token]) -> list[Span]:
    """Every span a key point may be said in: each clause, runs of up to
    SPAN_CLAUSES neighbouring clauses, and each sentence, at most
    MAX_SPAN_WORDS words long (a longer sentence counts through its parts)."""
    cl = clauses(text, toks)
    seen: dict[tuple[int, int], Span] = {}
    for a in range(len(cl)):
        for b in range(a, min(len(cl), a + SPAN_CLAUSES)):
            s = Span(cl[a].start, cl[b].end)
            if len(s) <= MAX_SPAN_WORDS or a == b:
                seen.setdefault((s.start, s.end), s)
    for s in sentences(text, toks):
        if len(s) <= MAX_SPAN_WORDS:
            seen.setdefault((s.start, s.end), s)
    step = PART_WORDS // 2
    for c in cl:
        if len(c) > 2 * PART_WORDS:
            for a in range(c.start, c.end - PART_WORDS + 1, step):
                seen.setdefault((a, a + PART_WORDS), Span(a, a + PART_WORDS))
    return sorted(seen.values(), key=lambda s: (s.start, s.end))


def pooled(
    vectors: np.ndarray, weights: np.ndarray, rows: Sequence[Sequence[int] | np.ndarray]
) -> np.ndarray:
    """Unit vectors of weighted means of ``vectors``' rows, one per row list
    (a zero vector for an empty list)."""
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    member = np.zeros((len(rows), len(vectors)), np.float32)
    for k, r in enumerate(rows):
        member[k, list(r)] = 1.0
    out = (member * weights[None, :].astype(np.float32)) @ vectors.reshape(-1, dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norms > 0, out / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
