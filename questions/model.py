"""The question bank's data model: plain frozen values, no I/O.

A bank is a list of questions; each question carries a reference answer and a
rubric (weighted key points, optionally misconceptions that cost points).
The on-disk TOML format is described in ``questions/bank_format.md`` and read by
``questions.bank``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DIFFICULTIES = {1: "easy", 2: "medium", 3: "hard"}


@dataclass(frozen=True)
class KeyPoint:
    """One idea a good answer must contain."""

    text: str
    """The idea in one sentence, as the feedback screen shows it when missed."""
    weight: float = 1.0
    """Relative weight within the question (normalised by the matcher)."""
    phrasings: tuple[str, ...] = ()
    """Short accepted wordings: synonyms, acronym <-> expansion, and likely
    speech-recognition spellings ("bite pair encoding")."""
    examples: tuple[str, ...] = ()
    """Whole sentences that state the idea the way a person might say it
    ("accept answers like ..."): the matcher compares their meaning with each
    clause of the answer."""
    probe: str = ""
    """A short spoken follow-up question (one sentence ending in "?") that the
    interviewer asks when this point was missed: it invites the point without
    naming it, so it never contains one of the point's ``phrasings``.
    Empty when the bank gives none."""


@dataclass(frozen=True)
class Misconception:
    """A statement a wrong answer makes; stating it costs points."""

    text: str
    """The wrong statement, as the feedback screen names it."""
    phrasings: tuple[str, ...] = ()
    """Short wordings that signal the misconception."""
    correction: str = ""
    """One sentence saying what is true instead."""
    penalty: float = 0.15
    """Fraction of the full score taken off when the misconception is stated."""


@dataclass(frozen=True)
class Question:
    """A question with its reference answer and rubric."""

    id: str
    """Stable identifier (lower-case words joined by hyphens); attempts refer to it."""
    prompt: str
    """The question as displayed."""
    reference: str
    """A correct, complete model answer (80-200 words in the curated bank)."""
    key_points: tuple[KeyPoint, ...]
    seed: int | None = None
    """Number of the question in the source article, where it has one."""
    spoken: str | None = None
    """The question as read aloud, where it differs from ``prompt``."""
    topics: tuple[str, ...] = ()
    difficulty: int = 2
    """1 easy, 2 medium, 3 hard."""
    misconceptions: tuple[Misconception, ...] = ()
    terms: tuple[str, ...] = ()
    """Domain terms an answer is likely to use; given to the speech recogniser
    as a hint (never as evidence)."""
    line: int = 0
    """Line of the question's table in its bank file (for messages)."""

    @property
    def spoken_text(self) -> str:
        return self.spoken or self.prompt

    @property
    def difficulty_name(self) -> str:
        return DIFFICULTIES.get(self.difficulty, str(self.difficulty))

    def recogniser_hint(self, limit: int = 200) -> str:
        """A short text of this question's domain words for whisper's
        ``initial_prompt``: it biases spelling, never adds content."""
        words: list[str] = []
        seen: set[str] = set()
        for term in self.terms:
            if term.lower() not in seen:
                seen.add(term.lower())
                words.append(term)
        text = ", ".join(words)
        return text[:limit]


@dataclass(frozen=True)
class Bank:
    """A loaded bank file."""

    name: str
    title: str
    questions: tuple[Question, ...]
    path: str = ""
    version: int = 1
    _index: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({q.id: q for q in self.questions})

    def get(self, question_id: str) -> Question:
        try:
            return self._index[question_id]
        except KeyError:
            raise KeyError(
                f"no question {question_id!r} in bank {self.name!r}; "
                f"'interviewer bank list' shows the ids"
            ) from None

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._index

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def topics(self) -> list[str]:
        return sorted({t for q in self.questions for t in q.topics})
