"""The headless session layer: engine, store, selection, spaced repetition,
export. Never imports the UI. Submodules are imported on first use::

    from interviewer.session import SessionEngine, Ports, Store
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SessionEngine": "interviewer.session.engine",
    "SessionSummary": "interviewer.session.summary",
    "QuestionResult": "interviewer.session.summary",
    "Ports": "interviewer.session.ports",
    "SessionError": "interviewer.session.errors",
    "IllegalTransition": "interviewer.session.errors",
    "NothingDue": "interviewer.session.errors",
    "Store": "interviewer.session.store",
    "StoreError": "interviewer.session.store",
    "ReviewScheduler": "interviewer.session.scheduler",
    "rating_for": "interviewer.session.scheduler",
    "select_questions": "interviewer.session.selection",
    "SelectionError": "interviewer.session.selection",
    "Attempt": "interviewer.session.model",
    "Phase": "interviewer.session.model",
    "SessionConfig": "interviewer.session.model",
    "SessionInfo": "interviewer.session.model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'interviewer.session' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
