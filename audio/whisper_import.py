"""Importing openai-whisper without numba.

openai-whisper imports numba (and through it llvmlite, about 215 MB
installed) for one reason: its word-timing module compiles two small
dynamic-time-warping helpers with ``numba.jit`` when it is imported, and
``whisper/__init__.py`` imports that module whatever the caller asks for.
The trainer never asks whisper for word timestamps (its delivery figures
come from the recorder's voice-activity frames), so numba is not installed.

:func:`load` imports whisper with a stand-in ``numba`` whose ``jit`` returns
the function unchanged: the helpers stay correct, plain NumPy-and-Python
code (slower, and never called by the trainer). The stand-in is visible only
while whisper is imported; afterwards ``import numba`` fails as before, so no
other package is misled. Where numba is installed it is used as it is.

Call :func:`load` before the first ``import whisper`` or ``from whisper...``
of a process; later imports of whisper's submodules then need nothing more.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()


def _jit(*args: Any, **kwargs: Any) -> Any:
    """``numba.jit`` that compiles nothing: ``@jit`` and ``@jit(...)`` both
    return the decorated function itself."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]

    def keep(function: Callable[..., Any]) -> Callable[..., Any]:
        return function

    return keep


def stand_in() -> types.ModuleType:
    """The module put in numba's place while whisper is imported."""
    module = types.ModuleType("numba", "Stand-in for numba: jit compiles nothing.")
    module.jit = _jit  # type: ignore[attr-defined]
    module.njit = _jit  # type: ignore[attr-defined]
    module.prange = range  # type: ignore[attr-defined]
    return module


def numba_installed() -> bool:
    """Whether ``import numba`` would find the real package (an entry of
    ``None`` in ``sys.modules`` is how a process blocks an import)."""
    if "numba" in sys.modules:
        return sys.modules["numba"] is not None
    return importlib.util.find_spec("numba") is not None


def load() -> types.ModuleType:
    """The ``whisper`` package, imported once per process."""
    with _lock:
        module = sys.modules.get("whisper")
        if module is not None:
            return module
        if numba_installed():
            return importlib.import_module("whisper")
        blocked = "numba" in sys.modules
        sys.modules["numba"] = stand_in()
        try:
            return importlib.import_module("whisper")
        finally:
            if blocked:
                sys.modules["numba"] = None  # type: ignore[assignment]
            else:
                del sys.modules["numba"]
