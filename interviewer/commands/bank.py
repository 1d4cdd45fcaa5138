"""``interviewer bank``: list, check, import and show question banks.

interviewer bank list [--bank NAME|FILE] [--topic T] [--json]
interviewer bank validate FILE...
interviewer bank import ARTICLE.md -o OUT.toml [--force]
interviewer bank show ID [--bank NAME|FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from questions.model import Bank

NAME = "bank"
HELP = "list, validate, import and show question banks"

MAX_ARTICLE_BYTES = 5 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="bank_action", metavar="ACTION")

    p = actions.add_parser("list", help="list the questions of a bank")
    _bank_option(p)
    p.add_argument("--topic", metavar="T", help="only questions with this topic")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = actions.add_parser("validate", help="check bank files; names file:line of each problem")
    p.add_argument("files", nargs="+", metavar="FILE", help="bank files (.toml)")
    p.add_argument(
        "--curated",
        action="store_true",
        help="also apply the curated-bank checks (reference of 80-200 words)",
    )

    p = actions.add_parser("import", help="draft a bank from a Markdown Q&A article")
    p.add_argument("file", metavar="FILE", help="the article (Markdown or plain text)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.toml", help="bank file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT.toml if it exists")

    p = actions.add_parser("show", help="show one question: prompt, reference, key points")
    p.add_argument("id", metavar="ID", help="question id (see 'interviewer bank list')")
    _bank_option(p)


def _bank_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bank",
        metavar="NAME|FILE",
        default=None,
        help="a shipped bank's name or a bank file (default: the shipped 'llm' bank)",
    )


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "bank_action", None)
    if action == "list":
        return _list(args)
    if action == "validate":
        return _validate(args)
    if action == "import":
        return _import(args)
    if action == "show":
        return _show(args)
    print(
        "interviewer bank: choose an action: list, validate, import or show "
        "(see 'interviewer bank --help')",
        file=sys.stderr,
    )
    return 2


# ---------------------------------------------------------------- helpers


def _fail(message: str) -> int:
    print(f"interviewer: {message}", file=sys.stderr)
    return 1


def _open_bank(spec: str | None) -> Bank:
    """The bank named by ``--bank`` (raises BankError)."""
    from questions.bank import DEFAULT_BANK, load_bank

    return load_bank(spec or DEFAULT_BANK)


def _bank_error_lines(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        first = str(problems[0])
        more = len(problems) - 1
        return first + (f" (and {more} more; run 'interviewer bank validate')" if more else "")
    return str(exc)


# ---------------------------------------------------------------- actions


def _list(args: argparse.Namespace) -> int:
    from questions.bank import BankError

    try:
        bank = _open_bank(args.bank)
    except BankError as exc:
        return _fail(_bank_error_lines(exc))
    questions = list(bank.questions)
    if args.topic:
        wanted = args.topic.strip().lower()
        questions = [q for q in questions if wanted in (t.lower() for t in q.topics)]
        if not questions:
            topics = ", ".join(bank.topics) or "none"
            return _fail(f"no question has topic {args.topic!r} (topics: {topics})")
    if args.json:
        rows = [
            {
                "id": q.id,
                "seed": q.seed,
                "difficulty": q.difficulty,
                "topics": list(q.topics),
                "prompt": q.prompt,
            }
            for q in questions
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(_table(questions))
    print(f"\n{len(questions)} question{'s' if len(questions) != 1 else ''} in {bank.title!r}")
    return 0


def _table(questions: list) -> str:
    headers = ("id", "seed", "level", "topics", "prompt")
    rows = [
        (
            q.id,
            "" if q.seed is None else str(q.seed),
            q.difficulty_name,
            ",".join(q.topics),
            q.prompt,
        )
        for q in questions
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers[:-1])]
    widths = [min(w, 40) for w in widths]

    def fmt(cells: tuple[str, ...]) -> str:
        fixed = [
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w)
            for c, w in zip(cells[:-1], widths, strict=True)
        ]
        return "  ".join(fixed + [cells[-1]]).rstrip()

    lines = [fmt(headers), fmt(tuple("-" * w for w in widths) + ("-" * 6,))]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> int:
    from questions.bank import check_file

    failed = False
    for name in args.files:
        bank, problems = check_file(name, curated=True if args.curated else None)
        for p in problems:
            print(p)
        errors = [p for p in problems if not p.warning]
        if errors or bank is None:
            failed = True
            print(f"{name}: {len(errors)} error{'s' if len(errors) != 1 else ''}")
            continue
        warned = len(problems)
        suffix = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
        print(f"{name}: {len(bank)} question{'s' if len(bank) != 1 else ''}, OK{suffix}")
    return 1 if failed else 0


def _read_article(path: Path) -> str:
    from interviewer.commands import CommandError

    try:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if path.stat().st_size > MAX_ARTICLE_BYTES:
            raise CommandError(f"{path}: file too large for an article (over 5 MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise CommandError(f"{path}: binary file, not a Markdown article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text; save the article as UTF-8") from None


def _import(args: argparse.Namespace) -> int:
    from interviewer.commands import CommandError
    from questions.bank import parse_bank
    from questions.importer import bank_to_toml, import_markdown

    source = Path(args.file)
    out = Path(args.output)
    if out.exists() and not args.force:
        raise CommandError(f"{out} already exists; add --force to overwrite it")
    if out.exists() and out.is_dir():
        raise CommandError(f"{out} is a folder; give a file name like bank.toml")
    text = _read_article(source)
    bank = import_markdown(text, source_name=source.name)
    if not bank.questions:
        return _fail(
            f"{source}: no questions found (expected numbered headings like '## 1. ...' "
            "each followed by an '**Answer:**' paragraph)"
        )
    toml_text = bank_to_toml(
        bank,
        header=(
            f"Drafted by 'interviewer bank import' from {source.name}.\n"
            "Review the key points and phrasings before practising with it."
        ),
    )
    _, problems = parse_bank(toml_text, str(out))
    errors = [p for p in problems if not p.warning]
    if errors:
        for p in errors:
            print(p, file=sys.stderr)
        return _fail(f"the drafted bank is not valid; {out} was not written")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(toml_text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    warnings = len(problems)
    note = f"; {warnings} warning{'s' if warnings != 1 else ''} (see 'interviewer bank validate {out}')"
    print(
        f"imported {len(bank)} question{'s' if len(bank) != 1 else ''} from {source} "
        f"into {out}{note if warnings else ''}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from questions.bank import BankError

    try:
        bank = _open_bank(args.bank)
    except BankError as exc:
        return _fail(_bank_error_lines(exc))
    if args.id not in bank:
        return _fail(
            f"no question {args.id!r} in bank {bank.name!r}; 'interviewer bank list' shows the ids"
        )
    q = bank.get(args.id)
    wrap = textwrap.TextWrapper(width=88)
    seed = f", seed {q.seed}" if q.seed is not None else ""
    print(f"{q.id}  ({q.difficulty_name}{seed}; topics: {', '.join(q.topics) or '-'})")
    print()
    print(q.prompt)
    if q.spoken:
        print(f"(read aloud as: {q.spoken})")
    print("\nReference answer:")
    for para in q.reference.split("\n\n"):
        print(textwrap.indent(wrap.fill(" ".join(para.split())), "  "))
    print("\nKey points:")
    for i, kp in enumerate(q.key_points, 1):
        weight = f" [weight {kp.weight:g}]" if kp.weight != 1.0 else ""
        print(f"  {i}. {kp.text}{weight}")
        if kp.phrasings:
            print(f"     phrasings: {', '.join(kp.phrasings)}")
    if q.misconceptions:
        print("\nMisconceptions:")
        for mc in q.misconceptions:
            print(f"  - {mc.text} (-{mc.penalty:.0%})")
            if mc.correction:
                print(f"    instead: {mc.correction}")
    if q.terms:
        print(f"\nTerms: {', '.join(q.terms)}")
    return 0
