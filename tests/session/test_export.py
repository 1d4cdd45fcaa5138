"""Exports parse back; the export and data commands through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest

from interviewer import cli, paths
from interviewer.config import Settings
from interviewer.session.engine import Ports, SessionEngine
from interviewer.session.export import (
    CSV_COLUMNS,
    ExportError,
    bank_to_anki,
    export,
    stable_id,
)
from interviewer.session.model import SessionConfig
from interviewer.session.store import Store
from tests.session.fakes import (
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    sample_bank,
)

SPOKEN = "An apple tied to an anchor, um, like so."


def run_session(store: Store, texts=(SPOKEN,)) -> int:
    """One spoken answer, one no-speech answer, one typed answer."""
    bank = sample_bank()
    transcriber = FakeTranscriber(list(texts))
    recorder = FakeRecorder()
    ports = Ports(FakeSpeaker(), recorder, transcriber, FakeGrader())
    cfg = SessionConfig(bank="sample", order="sequential", count=3)
    engine = SessionEngine(bank, store, ports, Settings(), cfg, clock=FakeClock(), rng=random.Random(0))
    info = engine.start()
    engine.next_question()
    engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    engine.next_question()
    recorder.speech = False
    engine.start_answer()
    engine.stop_answer()
    engine.transcribe()
    engine.grade()
    engine.next_question()
    engine.submit_typed("cherry castle, candles")
    engine.finish()
    return info.id


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def test_json_export_parses_back_with_full_rows(store, tmp_path):
    sid = run_session(store)
    path = export(store, sample_bank(), "json", session_id=sid)
    assert path.parent == paths.exports_dir() and path.suffix == ".json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    rows = data["attempts"]
    assert [r["question_id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[0]["transcript"] == SPOKEN and rows[0]["assessment"]["key_points"][0]["status"] == "covered"
    assert rows[1]["assessment"]["no_speech"] is True and rows[1]["score"] is None
    assert rows[2]["typed"] is True and rows[2]["score"] == 1.0
    assert data["session_id"] == sid


def test_csv_export_one_row_per_attempt(store, tmp_path):
    run_session(store)
    run_session(store)
    out = tmp_path / "out.csv"
    path = export(store, sample_bank(), "csv", output=out)
    assert path == out
    rows = list(csv.reader(io.StringIO(out.read_text(), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(body) == 6
    first = body[0]
    assert first["question_id"] == "q1" and first["prompt"] == "Explain q1."
    assert first["transcript"] == SPOKEN
    assert first["percent"] == "67" and first["covered"] == "2" and first["missed"] == "arrow"
    assert body[1]["no_speech"] == "1" and body[1]["score"] == ""


def test_markdown_export_is_readable(store, tmp_path):
    sid = run_session(store)
    path = export(store, sample_bank(), "md", session_id=sid, output=tmp_path)
    assert path.parent == tmp_path and path.suffix == ".md"
    text = path.read_text()
    assert f"> {SPOKEN}" in text
    assert "### Explain q1." in text and "score 67%" in text
    assert "**Missed:**\n\n- arrow" in text
    assert '- apple ("apple")' in text
    assert "no speech detected" in text
    assert "**Delivery:**" in text


def test_anki_deck_is_a_valid_package(tmp_path):
    bank = sample_bank()
    path = bank_to_anki(bank, tmp_path / "deck.apkg")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "collection.anki2" in names and "media" in names
        z.extract("collection.anki2", tmp_path)
    conn = sqlite3.connect(tmp_path / "collection.anki2")
    notes = conn.execute("SELECT flds FROM notes").fetchall()
    models = json.loads(conn.execute("SELECT models FROM col").fetchone()[0])
    decks = json.loads(conn.execute("SELECT decks FROM col").fetchone()[0])
    conn.close()
    assert len(notes) == len(bank)
    fields = sorted(n[0].split("\x1f") for n in notes)
    assert fields[0][0] == "Explain q1." and "apple" in fields[0][1] and "<li>anchor</li>" in fields[0][2]
    assert str(stable_id("model", "sample")) in models
    assert str(stable_id("deck", "sample")) in decks
    assert stable_id("deck", "sample") == stable_id("deck", "sample") != stable_id("deck", "other")


def test_unknown_session_is_a_clear_error(store):
    with pytest.raises(ExportError, match="no session 7"):
        export(store, sample_bank(), "json", session_id=7)


# -- the commands, through the real command-line parser -----------------------------------


def test_export_command(tmp_path, capsys, monkeypatch):
    import questions

    monkeypatch.setattr(questions, "default_bank", sample_bank)
    with Store() as s:
        sid = run_session(s)
    out = tmp_path / "x.csv"
    assert cli.main(["export", "--session", str(sid), "--format", "csv", "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(list(csv.reader(out.open(newline="")))) == 4
    assert cli.main(["export", "--all", "--format", "anki"]) == 0
    deck = Path(capsys.readouterr().out.strip())
    assert deck.parent == paths.exports_dir() and zipfile.is_zipfile(deck)
    assert cli.main(["export", "--session", "99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("interviewer: ") and "no session 99" in err and "Traceback" not in err


def test_export_command_reports_a_corrupt_database_in_one_line(capsys):
    paths.private_dir(paths.data_dir())
    paths.database_path().write_bytes(b"garbage " * 1000)
    assert cli.main(["export", "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "move it aside" in err


def test_data_path_lists_every_location(capsys):
    assert cli.main(["data", "--path"]) == 0
    out = capsys.readouterr().out
    for p in (paths.database_path(), paths.audio_dir(), paths.exports_dir(), paths.settings_path(), paths.models_dir()):
        assert str(p) in out


def test_data_delete_refuses_without_a_tty_then_deletes_with_yes(capsys, monkeypatch):
    with Store() as s:
        run_session(s)
    root = paths.data_dir()
    assert any(paths.audio_dir().iterdir())
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a TTY
    assert cli.main(["data", "--delete"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert paths.database_path().exists()
    assert cli.main(["data", "--delete", "--yes"]) == 0
    assert root.exists() and list(root.iterdir()) == []
    assert cli.main(["data", "--delete", "--yes"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


def test_data_delete_asks_on_a_tty(capsys, monkeypatch):
    with Store() as s:
        run_session(s)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("n\n"))
    assert cli.main(["data", "--delete"]) == 1
    assert paths.database_path().exists()
    monkeypatch.setattr("sys.stdin", Tty("yes\n"))
    assert cli.main(["data", "--delete"]) == 0
    assert not paths.database_path().exists()
