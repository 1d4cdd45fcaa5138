"""The field-by-field checks of a parsed bank (the rules of ``bank_format.md``).

:class:`BankChecker` walks the document ``tomllib`` produced and collects
every :class:`Problem` with the line it is on (from
:mod:`questions.toml_positions`); it builds the :class:`~questions.model.Bank`
only when there is no error. Warnings (a short reference, say) never block.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from questions.model import Bank, KeyPoint, Misconception, Question
from questions.toml_positions import Positions, TablePos

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
KEY_POINT_KEYS = ("text", "weight", "probe", "phrasings", "examples")
MISCONCEPTION_KEYS = ("text", "phrasings", "correction", "penalty")
TOP_KEYS = ("bank", "question")
MAX_PROBE_WORDS = 30
"""A key point's probe longer than this is an error."""
PROBE_WORDS = (6, 20)
"""The length a probe should have (a warning outside it)."""

Table = dict[str, Any]
"""A TOML table as ``tomllib`` returns it."""


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


def check_document(
    doc: Table, positions: Positions, source: str, curated: bool
) -> tuple[Bank | None, list[Problem]]:
    """The bank in ``doc`` (None if it has errors) and every problem found,
    in line order."""
    checker = BankChecker(source, positions, curated)
    bank = checker.check(doc)
    return bank, sorted(checker.problems, key=lambda p: p.line)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _words(text: str) -> int:
    return len(text.split())


def plain_words(text: str) -> list[str]:
    """``text`` lower-cased as a list of words, punctuation dropped: an
    apostrophe joins ("model's" -> "models"), any other symbol separates
    ("content-free" -> "content", "free")."""
    text = text.lower().replace("\u2019", "").replace("'", "")
    return re.findall(r"[^\W_]+", text)


def _contains_words(words: list[str], part: list[str]) -> bool:
    n = len(part)
    return n > 0 and any(words[i : i + n] == part for i in range(len(words) - n + 1))


def probe_giveaway(probe: str, phrasings: tuple[str, ...] | list[str]) -> str | None:
    """The first of ``phrasings`` that ``probe`` contains as a run of whole
    words (compared lower-cased, punctuation dropped), else None: a probe
    that says one of its point's phrasings gives the point away."""
    words = plain_words(probe)
    for phrasing in phrasings:
        if _contains_words(words, plain_words(phrasing)):
            return phrasing
    return None


def probe_problem(probe: str) -> str | None:
    """What is wrong with the form of a (non-empty) probe, else None."""
    n = _words(probe)
    if n > MAX_PROBE_WORDS:
        return f"has {n} words (at most {MAX_PROBE_WORDS}: one short spoken question)"
    if not probe.endswith("?"):
        return 'must be a question ending with "?"'
    return None


class BankChecker:
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
        self, table: Table, allowed: tuple[str, ...], where: TablePos, what: str
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
        self, table: Table, key: str, where: TablePos, what: str, required: bool
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

    def string_list(self, table: Table, key: str, where: TablePos, what: str) -> tuple[str, ...]:
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

    def check_question(self, table: Table, where: TablePos, index: int) -> Question | None:
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

    def _tables(self, table: Table, key: str, where: TablePos, label: str) -> list[Table] | None:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(
                where.line_of(key),
                f"{key!r} of {label} must be written as [[question.{key}]] tables",
            )
            return None
        return value

    def check_key_points(self, table: Table, where: TablePos, label: str) -> tuple[KeyPoint, ...]:
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
            probe = self.check_probe(kp, at, what, phrasings)
            out.append(
                KeyPoint(
                    text=text or "",
                    weight=weight,
                    phrasings=phrasings,
                    examples=examples,
                    probe=probe,
                )
            )
        return tuple(out)

    def check_probe(self, kp: Table, at: TablePos, what: str, phrasings: tuple[str, ...]) -> str:
        """The key point's follow-up question ("" when it has none)."""
        probe = self.text_field(kp, "probe", at, what, required=False)
        if probe is None:
            return ""
        line = at.line_of("probe")
        problem = probe_problem(probe)
        if problem is not None:
            self.error(line, f"'probe' of {what} {problem}")
            return ""
        said = probe_giveaway(probe, phrasings)
        if said is not None:
            self.error(
                line,
                f"'probe' of {what} gives the point away: it contains the phrasing {said!r}",
            )
            return ""
        n = _words(probe)
        lo, hi = PROBE_WORDS
        if not lo <= n <= hi:
            self.warn(line, f"'probe' of {what} has {n} words (a spoken probe: {lo}-{hi})")
        return probe

    def check_misconceptions(
        self, table: Table, where: TablePos, label: str
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
