"""Every place the trainer reads or writes, in one module.

Defaults follow the platform's conventions (platformdirs); each can be moved
with an environment variable, and the data directory with ``--data-dir``.
Everything created here is readable by the user only.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "interview-trainer"

_data_override: Path | None = None


def _platformdirs():
    import platformdirs

    return platformdirs


def set_data_dir(path: str | Path | None) -> None:
    """Point the data directory elsewhere for this process (``--data-dir``)."""
    global _data_override
    _data_override = Path(path).expanduser().resolve() if path else None


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 and return it."""
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    try:
        path.chmod(0o700)
    except OSError:
        pass
    return path


def data_dir() -> Path:
    if _data_override is not None:
        return _data_override
    env = os.environ.get("INTERVIEWER_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(_platformdirs().user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    env = os.environ.get("INTERVIEWER_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    return Path(_platformdirs().user_config_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Converted model weights and rendered question audio (safe to delete)."""
    env = os.environ.get("INTERVIEWER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(_platformdirs().user_cache_dir(APP, appauthor=False))


def database_path() -> Path:
    return data_dir() / "attempts.sqlite3"


def audio_dir() -> Path:
    return data_dir() / "audio"


def exports_dir() -> Path:
    return data_dir() / "exports"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def models_dir() -> Path:
    return cache_dir() / "models"


def tts_cache_dir() -> Path:
    return cache_dir() / "speech"
