"""What the matcher returns: a frozen, serialisable, explainable grade."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["covered", "partial", "missed"]

STATUS_CREDIT: dict[str, float] = {"covered": 1.0, "partial": 0.5, "missed": 0.0}
"""What a key point's status earns of its weight: the whole when covered,
half when partial, nothing when missed. The same rule scores an answer's key
points (curated rubrics) and the points recovered in a follow-up, so the
score always agrees with the verdicts shown beside it."""


@dataclass(frozen=True)
class Evidence:
    """Where in the answer something was found."""

    text: str
    """The words of the answer that matched."""
    start: int
    """Character offset of ``text`` in the answer as given to the matcher."""
    end: int


@dataclass(frozen=True)
class KeyPointResult:
    text: str
    weight: float
    status: Status
    similarity: float
    """The matcher's confidence in [0, 1] that the point is present."""
    evidence: Evidence | None = None
    missing: str = ""
    """For a partial key point: the words of the point the answer did not say."""

    @property
    def covered(self) -> bool:
        return self.status == "covered"


@dataclass(frozen=True)
class MisconceptionResult:
    text: str
    correction: str
    penalty: float
    evidence: Evidence


@dataclass(frozen=True)
class Assessment:
    """The grade of one answer.

    ``score`` is in [0, 1], or ``None`` when there was nothing to grade
    (``no_speech``)."""

    score: float | None
    key_points: tuple[KeyPointResult, ...] = ()
    misconceptions: tuple[MisconceptionResult, ...] = ()
    too_short: bool = False
    off_topic: bool = False
    no_speech: bool = False
    details: tuple[tuple[str, float], ...] = ()
    """Named component scores that explain ``score`` (for the feedback screen
    and for tuning)."""

    @property
    def percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)

    @property
    def covered(self) -> list[KeyPointResult]:
        return [k for k in self.key_points if k.status == "covered"]

    @property
    def missed(self) -> list[KeyPointResult]:
        return [k for k in self.key_points if k.status == "missed"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["details"] = dict(self.details)
        d["percent"] = self.percent
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assessment:
        def ev(e: dict[str, Any] | None) -> Evidence | None:
            return None if e is None else Evidence(**e)

        return cls(
            score=d["score"],
            key_points=tuple(
                KeyPointResult(
                    text=k["text"],
                    weight=k["weight"],
                    status=k["status"],
                    similarity=k["similarity"],
                    evidence=ev(k.get("evidence")),
                    missing=k.get("missing", ""),
                )
                for k in d.get("key_points", ())
            ),
            misconceptions=tuple(
                MisconceptionResult(
                    text=m["text"],
                    correction=m["correction"],
                    penalty=m["penalty"],
                    evidence=Evidence(**m["evidence"]),
                )
                for m in d.get("misconceptions", ())
            ),
            too_short=d.get("too_short", False),
            off_topic=d.get("off_topic", False),
            no_speech=d.get("no_speech", False),
            details=tuple(sorted(dict(d.get("details", {})).items())),
        )
