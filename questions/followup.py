"""Follow-up questions: which key point the interviewer probes after an
answer, and what a point given only after that prompt is worth.

The rules (the README's grading section says the same):

* **Which point.** A key point of weight 1 or more that has a ``probe`` and
  that the answer missed or only partly covered; the heaviest first, ties
  in the bank's order (``probe_order``).
* **Credit of a point.** 1 when covered, 1/2 when partial, 0 when missed
  (``STATUS_CREDIT``), read from the point's status in a grade.
* **Worth of a point.** Its weight over the sum of the question's key-point
  weights: the share of the full score the point stands for.
* **Recovered credit.** A follow-up answer is graded against the whole
  rubric and only the probed point is read from it. The point earns
  ``share * worth * (credit after the prompt - credit in the answer)``,
  never less than 0: a point recovered after a prompt earns ``share``
  (a setting, 50 % by default) of what it would have earned unprompted.
* **Misconceptions.** A misconception of the question stated in a follow-up
  costs its penalty, as it would in the answer, unless the answer or an
  earlier follow-up of the same question was already charged for it.
* **Combined score.** The answer's own (unprompted) score plus the recovered
  credit, minus those penalties, kept within 0..1. An answer without speech
  has no score and gets no follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from questions.assessment import STATUS_CREDIT, Assessment, KeyPointResult, Status
from questions.model import Question

MIN_WEIGHT = 1.0
"""Only key points at least this heavy are worth a follow-up."""


def point_result(question: Question, assessment: Assessment, index: int) -> KeyPointResult | None:
    """The result of key point ``index`` of ``question`` in ``assessment``
    (by position when the texts agree, else by text); None when absent."""
    text = question.key_points[index].text
    points = assessment.key_points
    if index < len(points) and points[index].text == text:
        return points[index]
    return next((k for k in points if k.text == text), None)


def point_status(question: Question, assessment: Assessment | None, index: int) -> Status:
    """Key point ``index``'s status in ``assessment`` ("missed" when not graded)."""
    if assessment is None or assessment.score is None:
        return "missed"
    result = point_result(question, assessment, index)
    return "missed" if result is None else result.status


def probe_order(
    question: Question, assessment: Assessment, *, exclude: Sequence[int] = ()
) -> list[int]:
    """Indexes of the key points a follow-up may probe, the first one to ask
    first: weight >= ``MIN_WEIGHT``, a probe, missed or partial in
    ``assessment``; heaviest first, ties in bank order. None for an answer
    without a score (no speech)."""
    if assessment.score is None:
        return []
    candidates = [
        i
        for i, kp in enumerate(question.key_points)
        if i not in exclude
        and kp.weight >= MIN_WEIGHT
        and kp.probe.strip()
        and point_status(question, assessment, i) != "covered"
    ]
    return sorted(candidates, key=lambda i: (-question.key_points[i].weight, i))


def worth(question: Question, index: int) -> float:
    """Key point ``index``'s weight over the question's total key-point weight."""
    total = sum(float(k.weight) for k in question.key_points)
    return float(question.key_points[index].weight) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Recovery:
    """What one follow-up did to the question's score."""

    index: int
    """The probed key point (its position in the question's key points)."""
    before: Status
    """Its status in the answer."""
    after: Status
    """Its status in the follow-up answer ("missed" when unanswered)."""
    worth: float
    share: float
    recovered: float
    """Score added: ``share * worth * max(0, credit after - credit before)``."""
    charged: tuple[tuple[str, float], ...] = ()
    """Misconceptions this follow-up was charged for: (text, penalty)."""

    @property
    def penalty(self) -> float:
        return sum(p for _, p in self.charged)

    @property
    def gained(self) -> bool:
        """The follow-up added credit to the point."""
        return self.recovered > 0


@dataclass(frozen=True)
class Combined:
    """The question's score with its follow-ups."""

    unprompted: float | None
    """The answer's own score."""
    score: float | None
    """The combined score (None when the answer had none)."""
    recoveries: tuple[Recovery, ...] = ()


def combine(
    question: Question,
    answer: Assessment,
    followups: Sequence[tuple[int, Assessment | None, float]],
) -> Combined:
    """The combined score of ``answer`` and its follow-ups, each given as
    (probed key point index, the follow-up's grade or None when it was not
    answered, share), in the order they were asked (see the module's rules)."""
    if answer.score is None:
        return Combined(None, None)
    known = {m.text for m in question.misconceptions}
    charged_before = {m.text for m in answer.misconceptions}
    score = float(answer.score)
    recoveries = []
    for index, graded, share in followups:
        before = point_status(question, answer, index)
        after = point_status(question, graded, index)
        w = worth(question, index)
        gain = max(0.0, STATUS_CREDIT[after] - STATUS_CREDIT[before])
        recovered = round(share * w * gain, 4)
        charged = []
        for m in graded.misconceptions if graded is not None and graded.score is not None else ():
            if m.text in known and m.text not in charged_before:
                charged_before.add(m.text)
                charged.append((m.text, float(m.penalty)))
        recovery = Recovery(index, before, after, round(w, 4), share, recovered, tuple(charged))
        recoveries.append(recovery)
        score += recovered - recovery.penalty
    return Combined(answer.score, round(max(0.0, min(1.0, score)), 4), tuple(recoveries))


__all__ = [
    "MIN_WEIGHT",
    "STATUS_CREDIT",
    "Combined",
    "Recovery",
    "combine",
    "point_result",
    "point_status",
    "probe_order",
    "worth",
]
