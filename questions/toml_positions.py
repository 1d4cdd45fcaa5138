"""Line numbers for a TOML bank, which ``tomllib`` does not give.

:func:`scan_positions` reads the text once more, lightly, to map each
``[[question]]`` table (and its ``[[question.key_point]]`` tables) and each
``key =`` line to its line number, so a problem can name the line it is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


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
