"""The engine's legal moves between phases (``Phase``), checked in one place."""

from __future__ import annotations

from interviewer.session.errors import IllegalTransition
from interviewer.session.model import Phase

ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.ASKING, Phase.DONE}),
    Phase.ASKING: frozenset({Phase.LISTENING, Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.LISTENING: frozenset({Phase.TRANSCRIBING, Phase.FEEDBACK, Phase.DONE}),
    Phase.TRANSCRIBING: frozenset({Phase.GRADING, Phase.FEEDBACK, Phase.DONE}),
    Phase.GRADING: frozenset({Phase.FEEDBACK, Phase.DONE}),
    Phase.FEEDBACK: frozenset({Phase.ASKING, Phase.GRADING, Phase.DONE}),
    Phase.DONE: frozenset({Phase.DONE}),
}


def require(phase: Phase, action: str, phases: tuple[Phase, ...], target: Phase | None = None) -> None:
    """Raise ``IllegalTransition`` naming the phase and what is allowed,
    unless ``phase`` is one of ``phases`` (and may move to ``target``)."""
    if phase not in phases or (target is not None and target not in ALLOWED[phase]):
        expected = " or ".join(p.value for p in phases)
        raise IllegalTransition(f"cannot {action} while {phase.value} (allowed when {expected})")


__all__ = ["ALLOWED", "require"]
