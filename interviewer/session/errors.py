"""What a session step raises when it cannot do what was asked (one line each)."""

from __future__ import annotations


class SessionError(Exception):
    """A session cannot do what was asked; one actionable line."""


class IllegalTransition(SessionError):
    """A step was called in a phase that does not allow it."""


class NothingDue(SessionError):
    """A review session found no question due."""


class NoRecogniser(SessionError):
    """A spoken answer needs transcribing and there is no speech recogniser."""


__all__ = ["IllegalTransition", "NoRecogniser", "NothingDue", "SessionError"]
