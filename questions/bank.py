"""Loading and validating question banks (the TOML format of ``bank_format.md``).

``load_bank`` turns a file, or the name of a shipped bank, into a
:class:`~questions.model.Bank`. Anything wrong with the file is reported as a
:class:`BankError` listing every :class:`Problem` found, each naming the file
and the line of the offending question or field; no other exception escapes,
whatever the bytes of the file.

``tomllib`` gives no positions for parsed values, so :func:`scan_positions`
reads the text once more, lightly, to map each ``[[question]]`` table (and its
``[[question.key_point]]`` tables) and each ``key =`` line to its line number.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from questions.model import Bank, KeyPoint, Misconception, Question

MAX_BYTES = 5 * 1024 * 1024
"""Bank files larger than this are refused (the curated bank is ~100 kB)."""
MIN_KEY_POINTS = 3
MAX_KEY_POINTS = 7
SHORT_REFERENCE_WORDS = 40
"""A reference shorter than this is flagged (warning) in any bank."""
CURATED_REFERENCE_WORDS = (80, 200)
"""Reference length expected in curated (shipped) banks (warning outside)."""
DEFAULT_BANK = "llm"
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

BANK_KEYS = ("name", "title", "version")
QUESTION_KEYS = (
    "id",
    "seed",
    "prompt",
    "spoken",
    "topics",
    "difficulty",
    "terms",
    "reference",
    "key_point",
    "misconception",
)
KEY_POINT_KEYS = ("text", "weight", "phrasings", "examples")
MISCONCEPTION_KEYS = ("text", "phrasings", "correction", "penalty")
TOP_KEYS = ("bank", "question")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful, for a warning) in a bank file."""

    file: str
    line: int
    """1-based line; 0 when the problem concerns the whole file."""
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        if not self.file:
            return f"{kind}{self.message}"
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {kind}{self.message}"


class BankError(ValueError):
    """A bank could not be loaded; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


# ---------------------------------------------------------------- public API


def shipped_banks() -> list[str]:
    """Names of the banks shipped in ``questions/data`` (``llm``, ...).

    A file whose stem has an underscore part (``llm_draft.toml``) is a working
    file, not a bank.
    """
    try:
        folder = resources.files("questions") / "data"
        names = [
            entry.name[: -len(".toml")]
            for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()
        ]
    except (OSError, ModuleNotFoundError):
        return []
    return sorted(n for n in names if n and "_" not in n)


def default_bank() -> Bank:
    """The curated LLM/ML bank shipped with the trainer."""
    return load_bank(DEFAULT_BANK)


def load_bank(path_or_name: str | os.PathLike[str]) -> Bank:
    """Load a bank from a TOML file path or a shipped bank's name.

    Raises :class:`BankError` (a ``ValueError``) listing every problem.
    """
    if _looks_like_name(path_or_name):
        name = str(path_or_name)
        return _load_shipped(name)
    path = Path(path_or_name)
    bank, problems = _check_path(path, curated=False)
    errors = [p for p in problems if not p.warning]
    if errors or bank is None:
        raise BankError(errors or [Problem(str(path), 0, "could not be loaded")])
    return bank


def validate_file(path: str | os.PathLike[str], curated: bool | None = None) -> list[Problem]:
    """Every error and warning for one bank file (never raises).

    ``curated`` adds the curated-bank checks (reference length 80-200 words);
    by default they apply to files inside the shipped data folder.
    """
    return check_file(path, curated)[1]


def check_file(
    path: str | os.PathLike[str], curated: bool | None = None
) -> tuple[Bank | None, list[Problem]]:
    """The bank in ``path`` (``None`` if it has errors) and every problem
    found, warnings included (never raises)."""
    p = Path(path)
    if curated is None:
        curated = _is_shipped_path(p)
    return _check_path(p, curated=curated)


def parse_bank(
    data: bytes | str, source: str = "<bank>", curated: bool = False
) -> tuple[Bank | None, list[Problem]]:
    """Parse bank text; return the bank (``None`` if there are errors) and the
    problems found, warnings included. Never raises."""
    try:
        return _parse(data, source, curated)
    except Exception as exc:  # last line of defence: report, never crash
        return None, [Problem(source, 0, f"could not be read as a bank ({type(exc).__name__})")]


def bank_from_text(data: bytes | str, source: str = "<bank>") -> Bank:
    """Like :func:`load_bank` for text already in memory."""
    bank, problems = parse_bank(data, source)
    errors = [p for p in problems if not p.warning]
    if errors or bank is None:
        raise BankError(errors or [Problem(source, 0, "could not be loaded")])
    return bank


# ---------------------------------------------------------------- file access


def _looks_like_name(value: object) -> bool:
    if isinstance(value, os.PathLike):
        return False
    if not isinstance(value, str):
        raise BankError(
            [Problem("", 0, f"a bank is given by a file path or a name, not {value!r}")]
        )
    if not value or "/" in value or "\\" in value or value.endswith(".toml"):
        return False
    return not Path(value).is_file()


def _load_shipped(name: str) -> Bank:
    available = shipped_banks()
    if name not in available:
        listed = ", ".join(available) if available else "none installed"
        raise BankError(
            [
                Problem(
                    "",
                    0,
                    f"no shipped bank named {name!r} (shipped: {listed}); "
                    "give the path of a .toml file to load your own",
                )
            ]
        )
    resource = resources.files("questions") / "data" / f"{name}.toml"
    source = f"questions/data/{name}.toml"
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise BankError([Problem(source, 0, f"cannot be read ({exc.strerror or exc})")]) from None
    bank, problems = parse_bank(data, source)
    errors = [p for p in problems if not p.warning]
    if errors or bank is None:
        raise BankError(errors or [Problem(source, 0, "could not be loaded")])
    return bank


def _is_shipped_path(path: Path) -> bool:
    try:
        folder = Path(str(resources.files("questions") / "data")).resolve()
        return path.resolve().parent == folder
    except (OSError, ValueError, TypeError):
        return False


def _check_path(path: Path, curated: bool) -> tuple[Bank | None, list[Problem]]:
    source = str(path)
    try:
        if not path.exists():
            return None, [Problem(source, 0, "no such file")]
        if path.is_dir():
            return None, [Problem(source, 0, "is a folder, not a bank file")]
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, [
                Problem(
                    source,
                    0,
                    f"file too large ({size / 1e6:.1f} MB; a bank may be at most "
                    f"{MAX_BYTES // (1024 * 1024)} MB)",
                )
            ]
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(source, 0, f"cannot be read ({exc.strerror or exc})")]
    bank, problems = parse_bank(data, source, curated)
    if bank is not None:
        bank = Bank(
            name=bank.name,
            title=bank.title,
            questions=bank.questions,
            path=source,
            version=bank.version,
        )
    return bank, problems


# ---------------------------------------------------------------- decoding


def _decode(data: bytes | str, source: str) -> tuple[str | None, list[Problem]]:
    if isinstance(data, str):
        text = data
        if "\x00" in text:
            return None, [Problem(source, 0, "binary file (NUL characters), not a TOML bank")]
    else:
        if len(data) > MAX_BYTES:
            return None, [Problem(source, 0, "file too large (a bank may be at most 5 MB)")]
        if b"\x00" in data:
            return None, [Problem(source, 0, "binary file (NUL bytes), not a TOML bank")]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            byte = data[exc.start : exc.start + 1].hex()
            return None, [
                Problem(
                    source,
                    line,
                    f"not UTF-8 text (byte 0x{byte}); save the bank as UTF-8",
                )
            ]
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return None, [Problem(source, 0, "empty file: a bank needs a [bank] table and questions")]
    return text, []


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def _syntax_problem(exc: Exception, text: str, source: str) -> Problem:
    message = str(exc)
    line = 0
    m = _TOML_POS.search(message)
    if m:
        line = int(m.group(1))
        message = message[: m.start()]
    else:
        m = _TOML_END.search(message)
        if m:
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            message = message[: m.start()] + " at end of file"
    return Problem(source, line, f"TOML syntax error: {message}")


# ---------------------------------------------------------------- line positions


@dataclass
class TablePos:
    """Where a table starts and where each of its keys is written."""

    line: int
    keys: dict[str, int] = field(default_factory=dict)
    subs: dict[str, list[TablePos]] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        """The line of ``key =`` in this table, else the table's own line."""
        return self.keys.get(key, self.line)

    def sub(self, kind: str, index: int) -> TablePos:
        """The ``index``-th ``[[question.<kind>]]`` table (falls back to the
        line of the ``kind`` key, for inline arrays)."""
        items = self.subs.get(kind, [])
        if 0 <= index < len(items):
            return items[index]
        return TablePos(self.line_of(kind))


@dataclass
class Positions:
    root: TablePos
    bank: TablePos
    questions: list[TablePos]

    def question(self, index: int) -> TablePos:
        if 0 <= index < len(self.questions):
            return self.questions[index]
        return TablePos(self.root.line_of("question"))


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"\\]*"|'[^']*')\s*[.=]""")


def _table_name(raw: str) -> str:
    parts = [p.strip().strip("\"'") for p in raw.split(".")]
    return ".".join(parts)


def _scan_value(line: str, start: int, state: str | None, depth: int) -> tuple[str | None, int]:
    """Follow strings and brackets through ``line[start:]``; return the open
    multi-line string delimiter (or None) and the bracket depth after it."""
    i, n = start, len(line)
    while i < n:
        if state is not None:
            if state == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(state, i):
                j = i + 3
                while j < n and line[j] == state[0] and j - i < 5:
                    j += 1
                i, state = j, None
                continue
            i += 1
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            state = line[i : i + 3]
            i += 3
        elif c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
        elif c == "'":
            end = line.find("'", i + 1)
            i = n if end < 0 else end + 1
        else:
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth = max(0, depth - 1)
            i += 1
    return state, depth


def scan_positions(text: str) -> Positions:
    """Map the tables and keys of a TOML bank to line numbers (1-based).

    A light scan, not a parser: it follows strings and brackets only far
    enough not to mistake their contents for keys or headers.
    """
    root = TablePos(1)
    bank = TablePos(0)
    questions: list[TablePos] = []
    current = root
    state: str | None = None
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        if state is not None or depth > 0:
            state, depth = _scan_value(line, 0, state, depth)
            continue
        header = _HEADER.match(line)
        if header:
            name = _table_name(header.group(2))
            if header.group(1) == "[[" and name == "question":
                current = TablePos(number)
                questions.append(current)
            elif header.group(1) == "[[" and name.startswith("question.") and questions:
                current = TablePos(number)
                questions[-1].subs.setdefault(name[len("question.") :], []).append(current)
            elif header.group(1) == "[" and name == "bank":
                if bank.line == 0:
                    bank = TablePos(number)
                current = bank
            else:
                current = TablePos(number)
            continue
        key = _KEY.match(line)
        if key:
            current.keys.setdefault(key.group(1).strip("\"'"), number)
            state, depth = _scan_value(line, key.end(), state, depth)
    if bank.line == 0:
        bank = TablePos(root.line_of("bank") if "bank" in root.keys else 1)
    return Positions(root, bank, questions)


# ---------------------------------------------------------------- checking


def _parse(data: bytes | str, source: str, curated: bool) -> tuple[Bank | None, list[Problem]]:
    text, problems = _decode(data, source)
    if text is None:
        return None, problems
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_syntax_problem(exc, text, source)]
    except RecursionError:
        return None, [Problem(source, 0, "TOML syntax error: values nested too deeply")]
    checker = _Checker(source, scan_positions(text), curated)
    bank = checker.check(doc)
    return bank, sorted(checker.problems, key=lambda p: p.line)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _words(text: str) -> int:
    return len(text.split())


class _Checker:
    """Walks a parsed document, collecting problems with line numbers."""

    def __init__(self, source: str, positions: Positions, curated: bool) -> None:
        self.source = source
        self.pos = positions
        self.curated = curated
        self.problems: list[Problem] = []

    # -- reporting

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message, warning=True))

    def unknown_keys(
        self, table: dict, allowed: tuple[str, ...], where: TablePos, what: str
    ) -> None:
        for key in table:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            )
            self.error(where.line_of(key), f"unknown key {key!r} in {what}{hint}")

    def text_field(
        self, table: dict, key: str, where: TablePos, what: str, required: bool
    ) -> str | None:
        if key not in table:
            if required:
                self.error(where.line, f"{what} has no {key!r}")
            return None
        value = table[key]
        line = where.line_of(key)
        if not isinstance(value, str):
            self.error(line, f"{key!r} of {what} must be a string, not {_kind(value)}")
            return None
        if not value.strip():
            self.error(line, f"{key!r} of {what} is empty")
            return None
        return value.strip()

    def string_list(self, table: dict, key: str, where: TablePos, what: str) -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        line = where.line_of(key)
        if not isinstance(value, list):
            self.error(line, f"{key!r} of {what} must be a list of strings, not {_kind(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value, 1):
            if not isinstance(item, str):
                self.error(line, f"{key!r} of {what}: item {i} must be a string, not {_kind(item)}")
            elif not item.strip():
                self.error(line, f"{key!r} of {what}: item {i} is empty")
            else:
                out.append(item.strip())
        return tuple(out)

    # -- document

    def check(self, doc: dict[str, Any]) -> Bank | None:
        root = self.pos.root
        self.unknown_keys(doc, TOP_KEYS, root, "the file")
        name, title, version = self.check_bank_table(doc)
        questions = self.check_questions(doc)
        if any(not p.warning for p in self.problems):
            return None
        return Bank(name=name or "", title=title or "", questions=tuple(questions), version=version)

    def check_bank_table(self, doc: dict[str, Any]) -> tuple[str | None, str | None, int]:
        where = self.pos.bank
        if "bank" not in doc:
            self.error(1, "no [bank] table (it needs name = ... and title = ...)")
            return None, None, 1
        table = doc["bank"]
        if not isinstance(table, dict):
            self.error(self.pos.root.line_of("bank"), "'bank' must be a table: [bank]")
            return None, None, 1
        self.unknown_keys(table, BANK_KEYS, where, "[bank]")
        name = self.text_field(table, "name", where, "[bank]", required=True)
        if name is not None and not ID_PATTERN.match(name):
            self.error(
                where.line_of("name"),
                f"bank name {name!r} must be lower-case letters, digits and hyphens",
            )
        title = self.text_field(table, "title", where, "[bank]", required=True)
        version = 1
        if "version" in table:
            value = table["version"]
            if not _is_int(value) or value < 1:
                self.error(
                    where.line_of("version"), "'version' of [bank] must be a whole number >= 1"
                )
            else:
                version = value
        return name, title, version

    def check_questions(self, doc: dict[str, Any]) -> list[Question]:
        if "question" not in doc:
            self.error(max(1, self.pos.bank.line), "the bank has no [[question]] tables")
            return []
        items = doc["question"]
        if not isinstance(items, list) or not all(isinstance(q, dict) for q in items):
            self.error(
                self.pos.root.line_of("question"),
                "'question' must be written as [[question]] tables",
            )
            return []
        if not items:
            self.error(self.pos.root.line_of("question"), "the bank has no questions")
            return []
        out: list[Question] = []
        ids: dict[str, int] = {}
        seeds: dict[int, int] = {}
        for index, table in enumerate(items):
            where = self.pos.question(index)
            q = self.check_question(table, where, index)
            qid = table.get("id") if isinstance(table.get("id"), str) else None
            if qid is not None and qid.strip():
                qid = qid.strip()
                line = where.line_of("id")
                if qid in ids:
                    self.error(
                        line,
                        f"duplicate id {qid!r}: already used by the question at line {ids[qid]}",
                    )
                else:
                    ids[qid] = where.line
            seed = table.get("seed")
            if _is_int(seed) and seed > 0:
                if seed in seeds:
                    self.error(
                        where.line_of("seed"),
                        f"duplicate seed {seed}: already used by the question at line {seeds[seed]}",
                    )
                else:
                    seeds[seed] = where.line
            if q is not None:
                out.append(q)
        return out

    def check_question(self, table: dict, where: TablePos, index: int) -> Question | None:
        before = len([p for p in self.problems if not p.warning])
        raw_id = table.get("id")
        label = (
            f"question {raw_id!r}"
            if isinstance(raw_id, str) and raw_id.strip()
            else (f"question {index + 1}")
        )
        self.unknown_keys(table, QUESTION_KEYS, where, label)
        qid = self.text_field(table, "id", where, label, required=True)
        if qid is not None and not ID_PATTERN.match(qid):
            self.error(
                where.line_of("id"),
                f"id {qid!r} must be lower-case letters and digits joined by single hyphens "
                "(like 'reward-hacking')",
            )
        prompt = self.text_field(table, "prompt", where, label, required=True)
        reference = self.text_field(table, "reference", where, label, required=True)
        spoken = self.text_field(table, "spoken", where, label, required=False)
        topics = self.string_list(table, "topics", where, label)
        terms = self.string_list(table, "terms", where, label)
        seed: int | None = None
        if "seed" in table:
            value = table["seed"]
            if not _is_int(value) or value < 1:
                self.error(
                    where.line_of("seed"), f"'seed' of {label} must be a positive whole number"
                )
            else:
                seed = value
        difficulty = 2
        if "difficulty" in table:
            value = table["difficulty"]
            if not _is_int(value) or value not in (1, 2, 3):
                self.error(
                    where.line_of("difficulty"),
                    f"'difficulty' of {label} must be 1, 2 or 3 (easy, medium, hard)",
                )
            else:
                difficulty = value
        key_points = self.check_key_points(table, where, label)
        misconceptions = self.check_misconceptions(table, where, label)
        if reference is not None:
            n = _words(reference)
            line = where.line_of("reference")
            if n < SHORT_REFERENCE_WORDS:
                self.warn(line, f"reference of {label} is short ({n} word{'s' if n != 1 else ''})")
            elif self.curated and not (
                CURATED_REFERENCE_WORDS[0] <= n <= CURATED_REFERENCE_WORDS[1]
            ):
                lo, hi = CURATED_REFERENCE_WORDS
                self.warn(line, f"reference of {label} has {n} words (curated banks: {lo}-{hi})")
        if len([p for p in self.problems if not p.warning]) > before:
            return None
        return Question(
            id=qid or "",
            prompt=prompt or "",
            reference=reference or "",
            key_points=key_points,
            seed=seed,
            spoken=spoken,
            topics=topics,
            difficulty=difficulty,
            misconceptions=misconceptions,
            terms=terms,
            line=where.line,
        )

    def _tables(self, table: dict, key: str, where: TablePos, label: str) -> list[dict] | None:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(
                where.line_of(key),
                f"{key!r} of {label} must be written as [[question.{key}]] tables",
            )
            return None
        return value

    def check_key_points(self, table: dict, where: TablePos, label: str) -> tuple[KeyPoint, ...]:
        items = self._tables(table, "key_point", where, label)
        if items is None:
            return ()
        if len(items) < MIN_KEY_POINTS:
            self.error(
                where.line,
                f"{label} has {len(items)} key point{'s' if len(items) != 1 else ''}; "
                f"it needs at least {MIN_KEY_POINTS} ([[question.key_point]] tables)",
            )
        elif len(items) > MAX_KEY_POINTS:
            extra = where.sub("key_point", MAX_KEY_POINTS)
            self.error(
                extra.line,
                f"{label} has {len(items)} key points; at most {MAX_KEY_POINTS} are allowed",
            )
        out: list[KeyPoint] = []
        for i, kp in enumerate(items):
            at = where.sub("key_point", i)
            what = f"key point {i + 1} of {label}"
            self.unknown_keys(kp, KEY_POINT_KEYS, at, what)
            text = self.text_field(kp, "text", at, what, required=True)
            weight = 1.0
            if "weight" in kp:
                value = kp["weight"]
                if not _is_number(value) or value <= 0:
                    self.error(at.line_of("weight"), f"'weight' of {what} must be a number > 0")
                else:
                    weight = float(value)
            phrasings = self.string_list(kp, "phrasings", at, what)
            examples = self.string_list(kp, "examples", at, what)
            out.append(
                KeyPoint(text=text or "", weight=weight, phrasings=phrasings, examples=examples)
            )
        return tuple(out)

    def check_misconceptions(
        self, table: dict, where: TablePos, label: str
    ) -> tuple[Misconception, ...]:
        items = self._tables(table, "misconception", where, label)
        if items is None:
            return ()
        out: list[Misconception] = []
        for i, mc in enumerate(items):
            at = where.sub("misconception", i)
            what = f"misconception {i + 1} of {label}"
            self.unknown_keys(mc, MISCONCEPTION_KEYS, at, what)
            text = self.text_field(mc, "text", at, what, required=True)
            correction = self.text_field(mc, "correction", at, what, required=False)
            penalty = 0.15
            if "penalty" in mc:
                value = mc["penalty"]
                if not _is_number(value) or not 0 <= value <= 1:
                    self.error(
                        at.line_of("penalty"), f"'penalty' of {what} must be between 0 and 1"
                    )
                else:
                    penalty = float(value)
            phrasings = self.string_list(mc, "phrasings", at, what)
            out.append(
                Misconception(
                    text=text or "",
                    phrasings=phrasings,
                    correction=correction or "",
                    penalty=penalty,
                )
            )
        return tuple(out)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date/time" if value is not None else "nothing"
