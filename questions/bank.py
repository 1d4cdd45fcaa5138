"""Loading and validating question banks (the TOML format of ``bank_format.md``).

``load_bank`` turns a file, or the name of a shipped bank, into a
:class:`~questions.model.Bank`. Anything wrong with the file is reported as a
:class:`BankError` listing every :class:`Problem` found, each naming the file
and the line of the offending question or field; no other exception escapes,
whatever the bytes of the file.

The field checks live in :mod:`questions.bank_check` and the line-number
scan in :mod:`questions.toml_positions`; their public names are importable
from here too.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import resources
from pathlib import Path

from questions.bank_check import (
    BANK_KEYS,
    CURATED_REFERENCE_WORDS,
    ID_PATTERN,
    KEY_POINT_KEYS,
    MAX_KEY_POINTS,
    MIN_KEY_POINTS,
    MISCONCEPTION_KEYS,
    QUESTION_KEYS,
    SHORT_REFERENCE_WORDS,
    TOP_KEYS,
    BankChecker,
    Problem,
    Table,
    check_document,
)
from questions.model import Bank
from questions.toml_positions import Positions, TablePos, scan_positions

__all__ = [
    "BANK_KEYS",
    "CURATED_REFERENCE_WORDS",
    "DEFAULT_BANK",
    "ID_PATTERN",
    "KEY_POINT_KEYS",
    "MAX_BYTES",
    "MAX_KEY_POINTS",
    "MIN_KEY_POINTS",
    "MISCONCEPTION_KEYS",
    "QUESTION_KEYS",
    "SHORT_REFERENCE_WORDS",
    "TOP_KEYS",
    "BankChecker",
    "BankError",
    "Positions",
    "Problem",
    "Table",
    "TablePos",
    "bank_from_text",
    "check_file",
    "default_bank",
    "load_bank",
    "parse_bank",
    "scan_positions",
    "shipped_banks",
    "validate_file",
]

MAX_BYTES = 5 * 1024 * 1024
"""Bank files larger than this are refused (the curated bank is ~100 kB)."""
MAX_BYTES = 5 * 1024 * 1024
"""Bank files larger than this are refused (the curated bank is ~100 kB)."""
DEFAULT_BANK = "llm"


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
    return _raise_on_errors(*_check_path(path, curated=False), str(path))


def validate_file(path: str | os.PathLike[str], curated: bool | None = None) -> list[Problem]:
    """Every error and warning for one bank file (never raises).

    ``curated`` adds the curated-bank checks (reference length 80-200 words);
    by default they apply to files inside the shipped data folder. Phrasings
    that the grader would read as one common word are reported as warnings
    (see :mod:`questions.lint`).
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
    bank, problems = _check_path(p, curated=curated)
    if bank is not None:
        from questions.lint import bank_warnings

        problems = problems + [
            Problem(str(p), w.line, f"{w.question}, {w.where}: {w.message}", warning=True)
            for w in bank_warnings(bank)
        ]
    return bank, problems


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
    return _raise_on_errors(*parse_bank(data, source), source)


def _raise_on_errors(bank: Bank | None, problems: list[Problem], source: str) -> Bank:
    """``bank``, unless an error (not a warning) was found: then BankError."""
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
    return _raise_on_errors(*parse_bank(data, source), source)


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
            return None, [_too_large(source, size)]
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


def _too_large(source: str, size: int) -> Problem:
    return Problem(
        source,
        0,
        f"file too large ({size / 1e6:.1f} MB; a bank may be at most "
        f"{MAX_BYTES // (1024 * 1024)} MB)",
    )


def _decode(data: bytes | str, source: str) -> tuple[str | None, list[Problem]]:
    if isinstance(data, str):
        text = data
        if "\x00" in text:
            return None, [Problem(source, 0, "binary file (NUL characters), not a TOML bank")]
    else:
        if len(data) > MAX_BYTES:
            return None, [_too_large(source, len(data))]
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
    return check_document(doc, scan_positions(text), source, curated)
