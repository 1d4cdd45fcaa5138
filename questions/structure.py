"""How much of a reference an answer must cover: the structure of lists.

A question that asks for "at least four differences", or whose reference
lists "possible challenges" when two are asked for, is answered in full by
that many items of the list; the reference's other items are alternatives,
not omissions. :func:`items_needed` reads the number asked for, and
:func:`item_spans` finds the reference's enumerated items (numbered, lettered
or bulleted; failing that, its sentences).
"""

from __future__ import annotations

import re
from functools import lru_cache

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_ASK = re.compile(
    r"\b(?:name|state|list|give|describe|mention|explain|provide|identify|enumerate)\b"
    r"[^.?!]*?\b(at\s+least\s+)?(\d|one|two|three|four|five|six)\b\s+"
    r"(?:of\s+the\s+|main\s+|different\s+)?([a-z]+)",
    re.IGNORECASE,
)
_NOT_ITEMS = frozenset({"sentence", "sentences", "word", "words", "line", "lines", "minutes"})
_ALTERNATIVES = re.compile(
    r"\b(?:possible\s+\w+\s*:|(?:one|any)\s+of\s+the\s+following|alternatively)",
    re.IGNORECASE,
)
_ITEM = re.compile(r"(?:(?<=\s)|^)(?:\d{1,2}\s?[.)]|[ivx]{1,4}\)|[a-h]\)|[●○•▪]|-(?=\S))")
_SENTENCE = re.compile(r"[.!?;](?=\s|$)")


def asked_count(question: str) -> tuple[int, bool] | None:
    """The number of things the question asks for ("name the 3 classes",
    "state at least 4 objectives") and whether it says "at least"; None when
    it asks for no number of things (answer lengths such as "in 2-5
    sentences" are not counts)."""
    m = _ASK.search(question or "")
    if not m:
        return None
    if m.group(3).lower() in _NOT_ITEMS or question[m.start(2) - 1 : m.start(2)] in "-–":
        return None
    word = m.group(2).lower()
    n = int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return (n, bool(m.group(1))) if 1 <= n <= 6 else None


@lru_cache(maxsize=1024)
def items_needed(question: str, reference: str) -> int | None:
    """How many of the reference's items a full answer needs, or None for all.

    Only when the question says "at least N", or the reference presents its
    items as alternatives ("possible ...", "one of the following ..."):
    "name the 2 phases" with a reference describing the two phases needs
    everything the reference says."""
    asked = asked_count(question)
    if asked is None:
        return None
    n, at_least = asked
    return n if at_least or _ALTERNATIVES.search(reference or "") else None


@lru_cache(maxsize=1024)
def item_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Character spans of the text's enumerated items (text before the first
    marker is the first span); its sentences when it has fewer than two."""
    starts = [m.start() for m in _ITEM.finditer(text)]
    if len(starts) >= 2:
        bounds = [0, *starts, len(text)]
    else:
        bounds = [0, *(m.end() for m in _SENTENCE.finditer(text)), len(text)]
    spans = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()]
    return tuple(spans) or ((0, len(text)),)
