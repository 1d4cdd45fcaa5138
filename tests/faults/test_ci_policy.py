"""What the suite needs and cannot find skips it on a developer's machine and
fails it under CI: espeak-ng, the virtual sound card."""

from __future__ import annotations

import shutil

import pytest

from tests import conftest


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_missing_espeak_fails_under_ci(monkeypatch, value):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="espeak-ng is not installed.*under CI"):
        conftest.needs_espeak()


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_missing_espeak_skips_elsewhere(monkeypatch, value):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="espeak-ng is not installed"):
        conftest.needs_espeak()


def test_present_espeak_neither_skips_nor_fails(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("CI", "true")
    conftest.needs_espeak()


def test_a_missing_sound_card_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="virtual sound card unavailable"):
        conftest._unavailable("no pulseaudio")


def test_each_parallel_worker_past_the_first_gets_its_own_card(monkeypatch):
    monkeypatch.setenv("VAUDIO_DIR", "/tmp/card")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert conftest.vaudio_dir() == "/tmp/card"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert conftest.vaudio_dir() == "/tmp/card"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert conftest.vaudio_dir() == "/tmp/card-gw1"
