"""Bank loading and validation: real files, exact file:line messages, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.cli import main
from questions.bank import (
    MAX_BYTES,
    BankError,
    Problem,
    default_bank,
    load_bank,
    parse_bank,
    shipped_banks,
    validate_file,
)
from tests.conftest import REPO, TEST_DATA

BANKS = TEST_DATA / "banks"
GOOD = BANKS / "good.toml"

FORTY_WORDS = " ".join(f"word{i}" for i in range(45))

HEAD = '[bank]\nname = "t"\ntitle = "Test bank"\n'  # lines 1-3


def question(qid: str = "q-one", extra: str = "", points: int = 3) -> str:
    """A valid question block (7 lines + 3 per key point), with ``extra``
    lines after the prompt."""
    kps = "".join(f'\n  [[question.key_point]]\n  text = "Point {i}."\n' for i in range(points))
    return (
        f'\n[[question]]\nid = "{qid}"\nprompt = "Why?"\n{extra}reference = "{FORTY_WORDS}"\n{kps}'
    )


def write(tmp_path: Path, text: str | bytes, name: str = "bank.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[Problem]:
    return [p for p in validate_file(path) if not p.warning]


# ---------------------------------------------------------------- loading


def test_good_bank_loads_with_lines_and_defaults():
    bank = load_bank(GOOD)
    assert bank.name == "mini" and bank.title == "Mini bank for tests"
    assert bank.path == str(GOOD)
    assert [q.id for q in bank.questions] == ["reward-hacking", "positional-encoding"]
    first, second = bank.questions
    assert (first.line, second.line) == (7, 45)
    assert first.seed == 3 and first.difficulty == 2 and first.topics == ("rlhf", "alignment")
    assert first.reference.startswith("Reward hacking happens") and first.reference.endswith(
        "early stopping."
    )
    assert first.key_points[0].weight == 2.0 and first.key_points[1].weight == 1.0
    assert first.misconceptions[0].penalty == 0.2
    assert second.spoken is None and second.misconceptions == ()
    assert bank.get("positional-encoding") is second
    assert validate_file(GOOD) == []


def test_load_bank_accepts_str_paths_and_reports_missing_files(tmp_path):
    assert len(load_bank(str(GOOD))) == 2
    with pytest.raises(BankError) as info:
        load_bank(tmp_path / "absent.toml")
    assert str(info.value) == f"{tmp_path / 'absent.toml'}: no such file"
    assert isinstance(info.value, ValueError)


def test_unknown_shipped_name_is_one_clear_line():
    with pytest.raises(BankError) as info:
        load_bank("no-such-bank")
    message = str(info.value)
    assert "\n" not in message and "no shipped bank named 'no-such-bank'" in message


def test_shipped_banks_exclude_underscore_files():
    data = REPO / "questions" / "data"
    expected = sorted(p.stem for p in data.glob("*.toml") if "_" not in p.stem)
    assert shipped_banks() == expected


def test_default_bank_is_valid():
    bank = default_bank()
    assert bank.name == "llm" and len(bank) > 0
    assert "llm" in shipped_banks()


# ---------------------------------------------------------------- fixture banks


def test_bad_fields_fixture_reports_every_problem_at_its_line():
    path = BANKS / "bad_fields.toml"
    problems = errors_of(path)
    got = {(p.line, p.message.split(" ")[0]) for p in problems}
    expected = {
        (4, "unknown"),  # colour
        (7, "id"),  # Not_A_Valid_Id
        (10, "'difficulty'"),
        (11, "'seed'"),
        (12, "unknown"),  # promt
        (16, "'weight'"),
        (19, "'text'"),
        (23, "'phrasings'"),
        (27, "'penalty'"),
        (29, "question"),  # two key points
        (43, "duplicate"),
        (44, "'prompt'"),
        (46, "'topics'"),
    }
    assert got == expected
    by_line = {p.line: str(p) for p in problems}
    assert by_line[12] == (
        f"{path}:12: unknown key 'promt' in question 'Not_A_Valid_Id' (did you mean 'prompt'?)"
    )
    assert "at least 3" in by_line[29]
    assert "line 29" in by_line[43]
    with pytest.raises(BankError) as info:
        load_bank(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(problems)
    assert all(line.startswith(f"{path}:") for line in lines)


def test_duplicates_fixture_names_both_lines():
    problems = [str(p) for p in errors_of(BANKS / "duplicates.toml")]
    assert any(":13: duplicate id 'same-id'" in p and "line 5" in p for p in problems)
    assert any(":14: duplicate seed 1" in p and "line 5" in p for p in problems)


def test_syntax_error_fixture_points_at_the_line():
    (problem,) = validate_file(BANKS / "syntax_error.toml")
    assert problem.line == 6
    assert str(problem).startswith(f"{BANKS / 'syntax_error.toml'}:6: TOML syntax error:")
    assert "(at line" not in str(problem)


# ---------------------------------------------------------------- malformed cases


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (HEAD + question(points=2), 5, "has 2 key points; it needs at least 3"),
        (HEAD + question(points=0), 5, "has 0 key points"),
        (HEAD + question(points=8), 5 + 4 + 7 * 3 + 1, "has 8 key points; at most 7"),
        (HEAD + question(extra="difficulty = 0\n"), 8, "'difficulty'"),
        (HEAD + question(extra='difficulty = "2"\n'), 8, "'difficulty'"),
        (HEAD + question(extra="seed = 0\n"), 8, "'seed'"),
        (HEAD + question(extra="seed = 1.5\n"), 8, "'seed'"),
        (HEAD + question(extra="seed = true\n"), 8, "'seed'"),
        (HEAD + question(extra='spoken = "  "\n'), 8, "'spoken' of question 'q-one' is empty"),
        (HEAD + question(extra='topics = ["ok", ""]\n'), 8, "item 2 is empty"),
        (HEAD + question(extra='terms = "RLHF"\n'), 8, "'terms'"),
        (HEAD + question(extra='refrence = "x"\n'), 8, "did you mean 'reference'?"),
        (HEAD + question(qid="Bad Id"), 6, "id 'Bad Id' must be lower-case"),
        (HEAD + question(qid="trailing-"), 6, "must be lower-case"),
        (HEAD + question().replace('prompt = "Why?"\n', ""), 5, "has no 'prompt'"),
        (HEAD + question().replace('id = "q-one"\n', ""), 5, "has no 'id'"),
        (HEAD + question().replace('prompt = "Why?"', "prompt = 42"), 7, "must be a string"),
        (HEAD + question().replace("reference = ", "reference = 1 #"), 8, "'reference'"),
        (HEAD + question().replace('text = "Point 1."', "text = ''"), 14, "is empty"),
        (
            HEAD + question().replace('text = "Point 1."', 'text = "P"\n  weight = -1.0'),
            15,
            "'weight' of key point 2",
        ),
        (
            HEAD + question().replace('text = "Point 1."', 'text = "P"\n  weight = nan'),
            15,
            "'weight'",
        ),
        (
            HEAD + question().replace('text = "Point 1."', 'text = "P"\n  wieght = 2.0'),
            15,
            "did you mean 'weight'?",
        ),
        (
            HEAD
            + question()
            + '\n  [[question.misconception]]\n  text = "Wrong."\n  penalty = -0.1\n',
            21,
            "'penalty' of misconception 1",
        ),
        (
            HEAD + question() + '\n  [[question.misconception]]\n  correction = "x"\n',
            19,
            "misconception 1 of question 'q-one' has no 'text'",
        ),
        (HEAD.replace('name = "t"\n', ""), 1, "[bank] has no 'name'"),
        (
            HEAD.replace('title = "Test bank"', 'title = ""') + question(),
            3,
            "'title' of [bank] is empty",
        ),
        (HEAD + "version = 0\n" + question(), 4, "'version'"),
        (HEAD, 1, "no [[question]] tables"),
        (question(), 1, "no [bank] table"),
        ("bank = 3\n" + question(), 1, "'bank' must be a table"),
        ("question = 3\n" + HEAD, 1, "'question' must be written as [[question]] tables"),
        ("questions = []\n" + HEAD + question(), 1, "did you mean 'question'?"),
        (
            HEAD + question() + question(),
            20,
            "duplicate id 'q-one': already used by the question at line 5",
        ),
        (
            HEAD + question(extra="seed = 4\n") + question("q-two", extra="seed = 4\n"),
            23,
            "duplicate seed 4: already used by the question at line 5",
        ),
        (HEAD + 'name = "again"\n', 4, "TOML syntax error"),
        (HEAD + "[[question]\n", 4, "TOML syntax error"),
        (
            HEAD + 'x = """never closed\n\n\n',
            6,
            "TOML syntax error: Unterminated string at end of file",
        ),
    ],
)
def test_malformed_bank_reports_exact_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    problems = errors_of(path)
    assert problems, "expected an error"
    matching = [p for p in problems if fragment in p.message]
    assert matching, [str(p) for p in problems]
    assert matching[0].line == line, [str(p) for p in problems]
    assert str(matching[0]).startswith(f"{path}:{line}: ")
    with pytest.raises(BankError):
        load_bank(path)


def test_multiline_strings_do_not_confuse_line_mapping(tmp_path):
    # A reference containing text that looks like headers and keys.
    tricky = (
        HEAD
        + '\n[[question]]\nid = "q-one"\nreference = """\n[[question]]\nprompt = "fake"\n'
        + FORTY_WORDS
        + '\n"""\nterms = [\n  "a",\n  "seed = 5",\n]\nseed = 0\nprompt = "Real?"\n'
        + "".join(f'\n  [[question.key_point]]\n  text = "P{i}"\n' for i in range(3))
    )
    path = write(tmp_path, tricky)
    (problem,) = errors_of(path)
    assert problem.line == 16 and "'seed'" in problem.message


def test_empty_binary_non_utf8_and_huge_files(tmp_path):
    empty = write(tmp_path, "  \n\n", "empty.toml")
    assert [str(p) for p in validate_file(empty)] == [
        f"{empty}: empty file: a bank needs a [bank] table and questions"
    ]
    binary = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00", "image.toml")
    assert "binary file" in str(validate_file(binary)[0])
    latin = write(
        tmp_path, (HEAD + question(extra='spoken = "caf\xe9"\n')).encode("latin-1"), "l.toml"
    )
    (problem,) = validate_file(latin)
    assert problem.line == 8 and "not UTF-8" in problem.message
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as f:
        f.truncate(MAX_BYTES + 1)
    (problem,) = validate_file(huge)
    assert "too large" in problem.message and "5 MB" in problem.message
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "folder" in validate_file(folder)[0].message


def test_bom_and_crlf_are_accepted(tmp_path):
    text = "\ufeff" + (HEAD + question()).replace("\n", "\r\n")
    bank = load_bank(write(tmp_path, text))
    assert bank.questions[0].line == 5


def test_inline_key_points_and_warnings(tmp_path):
    text = (
        HEAD
        + '\n[[question]]\nid = "inline"\nprompt = "P?"\nreference = "Too short."\n'
        + 'key_point = [{ text = "a" }, { text = "b" }, { text = "c", weight = 0 }]\n'
    )
    path = write(tmp_path, text)
    problems = validate_file(path)
    assert [(p.line, p.warning) for p in problems] == [(8, True), (9, False)]
    assert (
        str(problems[0]) == f"{path}:8: warning: reference of question 'inline' is short (2 words)"
    )


def test_curated_reference_length_warning(tmp_path):
    path = write(tmp_path, HEAD + question())
    assert validate_file(path) == []
    (warning,) = validate_file(path, curated=True)
    assert warning.warning and warning.line == 8 and "80-200" in warning.message


def test_parse_bank_never_raises_on_odd_values():
    for text in ["[[[[", "a = " + "[" * 5000, "x = 1979-05-27T07:32:00Z\n[bank]\nname=1"]:
        bank, problems = parse_bank(text, "odd.toml")
        assert bank is None and problems


# ---------------------------------------------------------------- CLI


def test_cli_validate_good_and_bad(capsys):
    assert main(["bank", "validate", str(GOOD)]) == 0
    assert capsys.readouterr().out.strip() == f"{GOOD}: 2 questions, OK"
    bad = BANKS / "bad_fields.toml"
    assert main(["bank", "validate", str(GOOD), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        f"{bad}:12: unknown key 'promt' in question 'Not_A_Valid_Id' (did you mean 'prompt'?)"
        in out
    )
    assert out[-1] == f"{bad}: 13 errors"


def test_cli_list_table_json_and_topic(capsys):
    assert main(["bank", "list", "--bank", str(GOOD)]) == 0
    out = capsys.readouterr().out
    header, rule, first, second = out.splitlines()[:4]
    assert header.split() == ["id", "seed", "level", "topics", "prompt"]
    assert first.split()[:4] == ["reward-hacking", "3", "medium", "rlhf,alignment"]
    assert second.endswith("What is the purpose of positional encoding in Transformer models?")
    assert main(["bank", "list", "--bank", str(GOOD), "--topic", "transformers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "id": "positional-encoding",
            "seed": 7,
            "difficulty": 1,
            "topics": ["transformers"],
            "prompt": "What is the purpose of positional encoding in Transformer models?",
        }
    ]
    assert main(["bank", "list", "--bank", str(GOOD), "--topic", "cooking"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no question has topic 'cooking'" in err


def test_cli_show(capsys):
    assert main(["bank", "show", "reward-hacking", "--bank", str(GOOD)]) == 0
    out = capsys.readouterr().out
    assert "What is reward hacking in RLHF?" in out
    assert "1. The policy exploits flaws in the learned reward model. [weight 2]" in out
    assert "instead: It is the policy optimising against an imperfect proxy reward." in out
    assert main(["bank", "show", "nope", "--bank", str(GOOD)]) == 1
    assert "no question 'nope'" in capsys.readouterr().err


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["bank", "list", "--bank", str(BANKS / "bad_fields.toml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("interviewer: ") and "12 more" in err
    assert main(["bank", "list", "--bank", str(tmp_path / "missing.toml")]) == 1
    assert capsys.readouterr().err == f"interviewer: {tmp_path / 'missing.toml'}: no such file\n"
    assert main(["bank"]) == 2


def test_cli_validate_in_a_subprocess(tmp_path):
    bad = write(tmp_path, HEAD + question(points=2))
    result = subprocess.run(
        [sys.executable, "-m", "interviewer", "bank", "validate", str(GOOD), str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{GOOD}: 2 questions, OK"
    assert lines[1].startswith(f"{bad}:5: question 'q-one' has 2 key points")
    assert lines[2] == f"{bad}: 1 error"


def test_shipped_names_resolve_through_package_resources(tmp_path, monkeypatch):
    import questions.bank as bank_module

    package = tmp_path / "pkg"
    (package / "data").mkdir(parents=True)
    (package / "data" / "llm.toml").write_bytes(GOOD.read_bytes())
    (package / "data" / "llm_draft.toml").write_text("not a bank", encoding="utf-8")
    (package / "data" / "notes.md").write_text("ignored", encoding="utf-8")
    monkeypatch.setattr(bank_module.resources, "files", lambda name: package)
    assert shipped_banks() == ["llm"]
    bank = default_bank()
    assert bank.name == "mini" and len(bank) == 2
    assert load_bank("llm") == bank
    with pytest.raises(BankError) as info:
        load_bank("llm_draft")
    assert "shipped: llm" in str(info.value)
