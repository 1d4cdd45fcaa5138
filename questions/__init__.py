"""Question banks and the rubric matcher (pure Python; no audio, no UI).

Public API::

    questions.default_bank()            -> Bank (the curated LLM/ML bank)
    questions.load_bank(path_or_name)   -> Bank
    questions.grade(question, reference, answer, key_points=None) -> Assessment
    questions.grade_question(q, answer) -> Assessment   (bank-aware: uses the rubric)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from questions.assessment import Assessment, Evidence, KeyPointResult
from questions.model import Bank, KeyPoint, Misconception, Question

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "Assessment",
    "Bank",
    "Evidence",
    "KeyPoint",
    "KeyPointResult",
    "Misconception",
    "Question",
    "default_bank",
    "grade",
    "grade_question",
    "load_bank",
]


def default_bank() -> Bank:
    from questions.bank import default_bank as _default

    return _default()


def load_bank(path_or_name: Any) -> Bank:
    from questions.bank import load_bank as _load

    return _load(path_or_name)


def grade(
    question: str,
    reference: str,
    answer: str,
    key_points: Sequence[str | KeyPoint] | None = None,
) -> Assessment:
    from questions.matcher import grade as _grade

    return _grade(question, reference, answer, key_points)


def grade_question(q: Question, answer: str) -> Assessment:
    from questions.matcher import grade_question as _gq

    return _gq(q, answer)
