"""``interviewer export [--session ID | --all] [--format md|json|csv|anki] [-o PATH]``:
write attempts (one session or the whole history) as Markdown, JSON or CSV,
or the question bank as an Anki deck."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "export attempts (Markdown, JSON, CSV) or the question bank (Anki deck)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--session", type=int, metavar="ID", help="one session (its id)")
    which.add_argument("--all", action="store_true", help="the whole history (the default)")
    p.add_argument(
        "--format",
        "-f",
        choices=["md", "json", "csv", "anki"],
        default="md",
        help="md (readable report, default), json (full rows), csv (one row per attempt), "
        "anki (the question bank as a deck)",
    )
    p.add_argument("-o", "--output", metavar="PATH", help="file or folder (default: the exports folder)")
    p.add_argument("--bank", metavar="NAME|FILE", help="question bank (default: the built-in LLM/ML bank)")


def run(args: argparse.Namespace) -> int:
    from interviewer.commands import CommandError
    from interviewer.session.export import ExportError, export
    from interviewer.session.store import Store, StoreError

    bank, problem = _bank_or_reason(args.bank)
    if bank is None and args.format == "anki":
        raise CommandError(f"cannot export the bank: {problem}")
    try:
        with Store() as store:
            path = export(store, bank, args.format, session_id=args.session, output=args.output)
    except (StoreError, ExportError) as exc:
        raise CommandError(str(exc)) from None
    print(path)
    return 0


def _bank_or_reason(spec: str | None):
    """The bank named on the command line; without one, the built-in bank,
    or ``None`` and the reason when it cannot be loaded (attempt exports then
    show question ids instead of prompts, so a broken built-in bank does not
    stop them)."""
    import questions
    from audio.errors import one_line
    from interviewer.commands import CommandError

    try:
        return (questions.load_bank(spec) if spec else questions.default_bank()), ""
    except (OSError, ValueError, KeyError, ImportError) as exc:
        message = one_line(exc)
        if spec:
            raise CommandError(message) from None
        return None, message
