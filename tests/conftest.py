"""Shared fixtures: every test runs against its own data and config folders,
so a developer's own attempts and settings never decide a test. The model
cache is shared by the whole run (the converted whisper checkpoint is built
once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
"""Development material kept beside the checkout (graded answers); optional."""


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory) -> Path:
    env = os.environ.get("INTERVIEWER_TEST_CACHE_DIR")
    if env:
        p = Path(env)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch, model_cache_dir):
    from interviewer import paths

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTERVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("INTERVIEWER_CACHE_DIR", str(model_cache_dir))
    paths.set_data_dir(None)
    yield
    paths.set_data_dir(None)
