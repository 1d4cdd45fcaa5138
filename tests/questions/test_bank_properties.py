"""Property-based tests: the bank parser and the importer never fail with
anything but a BankError, and the TOML writer round-trips any valid bank."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questions.bank import BankError, bank_from_text, parse_bank
from questions.importer import bank_to_toml, import_markdown
from questions.model import Bank, KeyPoint, Misconception, Question
from tests.conftest import TEST_DATA

GOOD_TEXT = (TEST_DATA / "banks" / "good.toml").read_text(encoding="utf-8")
GOOD_LINES = GOOD_TEXT.splitlines(keepends=True)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def normalised(bank: Bank) -> Bank:
    return replace(
        bank, path="", questions=tuple(replace(q, line=0) for q in bank.questions), _index={}
    )


def assert_only_bank_errors(data: bytes | str) -> None:
    bank, problems = parse_bank(data, "fuzz.toml")
    assert (bank is None) == any(not p.warning for p in problems)
    n_lines = (data.count(b"\n") if isinstance(data, bytes) else data.count("\n")) + 1
    for p in problems:
        assert 0 <= p.line <= n_lines + 1, p
        assert str(p).startswith("fuzz.toml") and "\n" not in str(p)
    try:
        bank_from_text(data, "fuzz.toml")
    except BankError as exc:
        assert exc.problems and all(str(p) in str(exc) for p in exc.problems)


# ---------------------------------------------------------------- parser robustness


@SETTINGS
@given(st.binary(max_size=2000))
def test_parser_survives_arbitrary_bytes(data):
    assert_only_bank_errors(data)


@SETTINGS
@given(st.text(max_size=2000))
def test_parser_survives_arbitrary_text(text):
    assert_only_bank_errors(text)


TOML_PIECES = st.sampled_from(
    [
        "[bank]\n",
        "[[question]]\n",
        "[[question.key_point]]\n",
        "[[question.misconception]]\n",
        'name = "x"\n',
        'title = "T"\n',
        'id = "a-b"\n',
        "id = 3\n",
        "seed = 1\n",
        "difficulty = 9\n",
        'prompt = "P?"\n',
        'reference = """\nR\n"""\n',
        'text = "t"\n',
        "weight = -1\n",
        "penalty = 2.0\n",
        'phrasings = ["a", 1]\n',
        "topics = [\n",
        "]\n",
        '"""\n',
        "'''\n",
        "key_point = [{ text = 'a' }]\n",
        "x = {",
        "# comment\n",
        "\n",
        "= =\n",
        "[[",
        "\\",
    ]
)


@SETTINGS
@given(st.lists(TOML_PIECES, max_size=40).map("".join))
def test_parser_survives_toml_like_text(text):
    assert_only_bank_errors(text)


@st.composite
def mutated_good_bank(draw) -> str:
    lines = list(GOOD_LINES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert", "char"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "replace":
            lines[i] = draw(TOML_PIECES)
        elif kind == "insert":
            lines.insert(i, draw(st.text(max_size=30)) + "\n")
        else:
            line = lines[i]
            k = draw(st.integers(0, max(0, len(line) - 1)))
            lines[i] = line[:k] + draw(st.characters()) + line[k + 1 :]
    return "".join(lines)


@SETTINGS
@given(mutated_good_bank())
def test_parser_survives_mutated_valid_banks(text):
    assert_only_bank_errors(text)
    assert_only_bank_errors(text.encode("utf-8", "surrogatepass"))


def test_unmutated_bank_is_valid():
    bank = bank_from_text(GOOD_TEXT)
    assert len(bank) == 2


# ---------------------------------------------------------------- importer robustness


MD_PIECES = st.one_of(
    st.sampled_from(
        [
            "# Title\n",
            "## 1. What is A?\n",
            "### 2. What is B (ABC)?\n",
            "#### 3. Third?\n",
            "## 2. Out of order?\n",
            "**Answer:** ",
            "**Answer:**\n",
            "- **Term:** explanation of the term.\n",
            "- **Other term** without colon, while\n",
            "* plain bullet\n",
            "1. numbered list item\n",
            "```\ncode = 1\n",
            "```\n",
            "Parameter-Efficient Fine-Tuning (PEFT) helps.\n",
            "lower-case continuation line.\n",
            "Tags\n",
            "## Responses (2)\n",
            "Written by someone\n",
            "[a link](http://x) and ![img](y)\n",
            "\n",
            '\\*escaped\\* _under_ `code` "quotes" \\ backslash\n',
        ]
    ),
    st.text(max_size=40),
)


@SETTINGS
@given(st.lists(MD_PIECES, max_size=40).map("".join))
def test_importer_never_raises_and_output_loads(text):
    bank = import_markdown(text, source_name="fuzz.md")
    seeds = [q.seed for q in bank.questions]
    assert seeds == list(range(1, len(seeds) + 1))
    if bank.questions:
        loaded = bank_from_text(bank_to_toml(bank), "out.toml")
        assert normalised(loaded) == normalised(bank)


# ---------------------------------------------------------------- writer round trip

# Strings as the loader keeps them: non-blank, no surrounding whitespace.
PIECE = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=6),
    st.sampled_from(['"', "\\", "\n", "'", '"""', "\\n", "\t", "\r\n", "é", "漢", "🎤", " "]),
)
TEXT = (
    st.lists(PIECE, min_size=1, max_size=12)
    .map("".join)
    .filter(lambda s: s.strip() == s and bool(s))
)
LONG_TEXT = (
    st.lists(PIECE, min_size=1, max_size=60)
    .map("".join)
    .filter(lambda s: s.strip() == s and bool(s))
)
IDS = st.from_regex(r"\A[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}\Z")
WEIGHTS = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def banks(draw) -> Bank:
    ids = draw(st.lists(IDS, min_size=1, max_size=4, unique=True))
    seeds = draw(st.lists(st.integers(1, 10**6), min_size=len(ids), max_size=len(ids), unique=True))
    questions = []
    for qid, seed in zip(ids, seeds, strict=True):
        key_points = tuple(
            KeyPoint(
                text=draw(TEXT),
                weight=draw(st.one_of(st.just(1.0), WEIGHTS)),
                phrasings=tuple(draw(st.lists(TEXT, max_size=3))),
            )
            for _ in range(draw(st.integers(3, 7)))
        )
        misconceptions = tuple(
            Misconception(
                text=draw(TEXT),
                phrasings=tuple(draw(st.lists(TEXT, max_size=2))),
                correction=draw(st.one_of(st.just(""), TEXT)),
                penalty=draw(st.floats(min_value=0, max_value=1, allow_nan=False)),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        questions.append(
            Question(
                id=qid,
                prompt=draw(TEXT),
                reference=draw(LONG_TEXT),
                key_points=key_points,
                seed=draw(st.one_of(st.none(), st.just(seed))),
                spoken=draw(st.one_of(st.none(), TEXT)),
                topics=tuple(draw(st.lists(TEXT, max_size=3))),
                difficulty=draw(st.integers(1, 3)),
                misconceptions=misconceptions,
                terms=tuple(draw(st.lists(TEXT, max_size=3))),
            )
        )
    return Bank(
        name=draw(IDS),
        title=draw(TEXT),
        questions=tuple(questions),
        version=draw(st.integers(1, 50)),
    )


@pytest.mark.slow
@SETTINGS
@given(banks())
def test_bank_to_toml_round_trips(bank):
    text = bank_to_toml(bank)
    bank_back, problems = parse_bank(text, "rt.toml")
    assert bank_back is not None, [str(p) for p in problems]
    assert normalised(bank_back) == normalised(bank)


@pytest.mark.parametrize("header", ["", "one line", "two\nlines"])
def test_header_comments_do_not_change_the_bank(header):
    bank = bank_from_text(GOOD_TEXT)
    assert normalised(bank_from_text(bank_to_toml(bank, header=header))) == normalised(bank)
