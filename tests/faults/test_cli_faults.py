"""Cases 2, 3 and 8 through the installed command line: a corrupt database,
a corrupt model checkpoint and bad bank files, each ending in clear lines
and a non-zero exit (or, for the model, in a rebuilt checkpoint)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.faults.conftest import JFK, QUESTION, assert_one_line_error, run_cli


def test_export_on_a_corrupt_database(sub_env, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "attempts.sqlite3"
    junk = os.urandom(4096)
    db.write_bytes(junk)
    r = run_cli("export", "--all", env=sub_env, timeout=120)
    err = assert_one_line_error(r, "attempts.sqlite3")
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
    assert "corrupt" in err or "not a readable database" in err
    assert db.read_bytes() == junk  # nothing was overwritten


@pytest.mark.e2e
@pytest.mark.slow
def test_score_rebuilds_a_corrupt_checkpoint(sub_env, tmp_path, model_cache_dir, bank_file):
    from audio.weights import converted_paths, ensure_converted

    ensure_converted(model_cache_dir)
    cache = tmp_path / "cache"
    shutil.copytree(model_cache_dir / "models", cache / "models")
    pt, sidecar = converted_paths(cache)
    raw = bytearray(pt.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4096] = os.urandom(4096)  # damage inside the weights
    pt.write_bytes(bytes(raw))
    env = dict(sub_env, INTERVIEWER_CACHE_DIR=str(cache))
    r = run_cli("score", str(JFK), "--bank", str(bank_file), "--question", QUESTION, "--json",
                env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "ask not what your country" in out["transcript"].lower()
    assert out["score"] is not None and out["score"] > 0
    assert json.loads(sidecar.read_text())["sha256"] != "" and ensure_converted(cache).rebuilt is False


def _big_bank(path):
    head = '[bank]\nname = "big"\ntitle = "Huge"\n\n'
    filler = "# " + "x" * 98 + "\n"
    path.write_text(head + filler * (5 * 1024 * 1024 // len(filler) + 10), encoding="utf-8")


def _binary_bank(path):
    path.write_bytes(b"\x00\x01\x02\xff\xfe" + os.urandom(2000))


def _malformed_bank(path):
    path.write_text('[bank]\nname = "m"\ntitle = "M"\n\n[[question]]\nid = "q1"\nprompt = "unterminated\n',
                    encoding="utf-8")


def _duplicate_bank(path):
    from tests.faults.conftest import BANK_TOML

    first = BANK_TOML.index("[[question]]")
    second = BANK_TOML.index("[[question]]", first + 1)
    block = BANK_TOML[first:second]
    path.write_text(BANK_TOML + "\n" + block.replace("seed = 1", "seed = 9"), encoding="utf-8")


@pytest.mark.parametrize(
    ("make", "needle", "has_line"),
    [(_malformed_bank, "syntax", True), (_big_bank, "mb", False), (_binary_bank, "binary", False),
     (_duplicate_bank, "civic-duty", True)],
    ids=["malformed", "huge", "binary", "duplicate-id"],
)
def test_bank_validate_reports_file_and_line(make, needle, has_line, sub_env, tmp_path):
    """Errors are ``file:line: message`` (a whole-file problem such as size or
    binary content names the file alone), then ``file: N error(s)``."""
    f = tmp_path / "bad.toml"
    make(f)
    r = run_cli("bank", "validate", str(f), env=sub_env, timeout=120)
    assert r.returncode != 0, (r.stdout, r.stderr)
    text = r.stdout + r.stderr
    assert "Traceback" not in text, text
    located = [ln for ln in text.splitlines() if ln.startswith(f"{f}:")]
    assert located, text
    with_line = [ln for ln in located if ln[len(str(f)) + 1 :].split(":", 1)[0].isdigit()]
    if has_line:
        assert with_line, text
        assert int(with_line[0][len(str(f)) + 1 :].split(":", 1)[0]) > 0, text
    assert any(needle in ln.lower() for ln in located), text
    assert any("error" in ln for ln in located[-1:]), text
    assert len(text) < 4000  # a few lines, not a dump
