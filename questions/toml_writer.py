"""Any bank as TOML text, in the format of ``bank_format.md``.

``bank_to_toml`` writes every field the loader reads, so loading its output
gives back an equal bank; strings are escaped exactly and long references
wrapped with TOML's line-ending backslash, which loses nothing.
"""

from __future__ import annotations

from questions.model import Bank, Question


def _escape(text: str, multiline: bool = False) -> str:
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n" if multiline else "\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly."""
    return f'"{_escape(text)}"'


def _wrap(escaped_line: str, width: int) -> list[str]:
    """Break a long line at spaces using TOML's line-ending backslash (which
    drops the newline and the next line's leading blanks, so we only break
    where the next character is not blank)."""
    pieces: list[str] = []
    rest = escaped_line
    while len(rest) > width:
        cut = -1
        for k in range(min(width, len(rest) - 1), 0, -1):
            if rest[k - 1] == " " and not rest[k].isspace() and not _odd_backslashes(rest[:k]):
                cut = k
                break
        if cut <= 0:
            break
        pieces.append(rest[:cut] + "\\")
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def _odd_backslashes(text: str) -> bool:
    n = len(text) - len(text.rstrip("\\"))
    return n % 2 == 1


def toml_multiline(text: str, width: int = 88) -> str:
    """A TOML multi-line basic string (``\"\"\"``) holding ``text`` exactly,
    wrapped for reading."""
    lines = _escape(text, multiline=True).split("\n")
    body: list[str] = []
    for line in lines:
        body.extend(_wrap(line, width))
    return '"""\n' + "\n".join(body) + '\\\n"""'


def _toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(toml_string(i) for i in items) + "]"


def _toml_float(value: float) -> str:
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        return text
    return text if any(c in text for c in ".eE") else text + ".0"


def _question_toml(q: Question) -> list[str]:
    lines = ["[[question]]", f"id = {toml_string(q.id)}"]
    if q.seed is not None:
        lines.append(f"seed = {q.seed}")
    lines.append(f"prompt = {toml_string(q.prompt)}")
    if q.spoken is not None:
        lines.append(f"spoken = {toml_string(q.spoken)}")
    if q.topics:
        lines.append(f"topics = {_toml_list(q.topics)}")
    lines.append(f"difficulty = {q.difficulty}")
    if q.terms:
        lines.append(f"terms = {_toml_list(q.terms)}")
    lines.append(f"reference = {toml_multiline(q.reference)}")
    for kp in q.key_points:
        lines += ["", "  [[question.key_point]]", f"  text = {toml_string(kp.text)}"]
        if kp.weight != 1.0:
            lines.append(f"  weight = {_toml_float(kp.weight)}")
        if kp.probe:
            lines.append(f"  probe = {toml_string(kp.probe)}")
        if kp.phrasings:
            lines.append(f"  phrasings = {_toml_list(kp.phrasings)}")
        if kp.examples:
            lines.append(f"  examples = {_toml_list(kp.examples)}")
    for mc in q.misconceptions:
        lines += ["", "  [[question.misconception]]", f"  text = {toml_string(mc.text)}"]
        if mc.phrasings:
            lines.append(f"  phrasings = {_toml_list(mc.phrasings)}")
        if mc.correction:
            lines.append(f"  correction = {toml_string(mc.correction)}")
        lines.append(f"  penalty = {_toml_float(mc.penalty)}")
    return lines


def bank_to_toml(bank: Bank, header: str = "") -> str:
    """The bank in the TOML format of ``bank_format.md``.

    ``header`` becomes leading comment lines. Loading the result gives a bank
    equal to ``bank`` (apart from its path and line numbers).
    """
    lines: list[str] = [f"# {h}".rstrip() for h in header.splitlines()]
    if lines:
        lines.append("")
    lines += [
        "[bank]",
        f"name = {toml_string(bank.name)}",
        f"title = {toml_string(bank.title)}",
        f"version = {bank.version}",
    ]
    for q in bank.questions:
        lines.append("")
        lines.extend(_question_toml(q))
    return "\n".join(lines) + "\n"
