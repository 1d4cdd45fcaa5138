"""The command line: parses it and dispatches to a sub-command.

``interviewer`` with no sub-command opens the TUI (composed in
``interviewer.compose``). Sub-command modules live in ``interviewer.commands``
and import anything heavy only when run (``--help`` lists them from their
NAME/HELP without importing anything heavy).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from interviewer import __version__
from interviewer.commands import COMMANDS, CommandError
from interviewer.compose import add_voice_option

__all__ = ["CommandError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interviewer",
        description=(
            "Practise interview answers out loud: the question is read to you, your "
            "spoken answer is transcribed offline and graded against a reference answer."
        ),
        epilog="With no command, the interactive trainer opens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where attempts, audio and exports are kept (default: the user data directory)",
    )
    add_voice_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"interviewer.commands.{name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data_dir:
        from interviewer import paths

        paths.set_data_dir(args.data_dir)
    module = getattr(args, "_module", None)
    try:
        if module is None:
            from interviewer.compose import open_app

            return open_app(args, mode=None)
        return int(module.run(args) or 0)
    except CommandError as exc:
        print(f"interviewer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interviewer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`interviewer bank list | head`): not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
