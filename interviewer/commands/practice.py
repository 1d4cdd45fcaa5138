"""``interviewer practice``: a spoken practice session in the trainer (the
app is composed in ``interviewer.compose``)."""

from __future__ import annotations

import argparse

from interviewer.compose import add_voice_option

NAME = "practice"
HELP = "practise questions out loud (the default when no command is given)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", "-n", type=int, metavar="N", help="number of questions")
    p.add_argument("--topic", "-t", action="append", default=[], metavar="T",
                   help="only questions tagged T (repeatable)")
    p.add_argument("--seed", type=int, metavar="S", help="fix the choice and order of questions")
    p.add_argument("--bank", metavar="NAME|FILE", help="question bank (default: the built-in one)")
    p.add_argument("--typed", action="store_true",
                   help="answer by typing (no microphone, no speech at all)")
    add_voice_option(p, subcommand=True)


def run(args: argparse.Namespace) -> int:
    from interviewer.compose import open_app

    return open_app(args, mode="practice")
