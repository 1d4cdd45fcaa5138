"""``interviewer rapid``: a timed rapid-fire round."""

from __future__ import annotations

import argparse

from interviewer.compose import add_voice_option

NAME = "rapid"
HELP = "a rapid-fire round: N questions against the clock"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", "-n", type=int, default=None, metavar="N",
                   help="number of questions (default 10)")
    p.add_argument("--seconds", "-s", type=float, default=None, metavar="S",
                   help="seconds per answer (default 45)")
    p.add_argument("--topic", "-t", action="append", default=[], metavar="T",
                   help="only questions tagged T (repeatable)")
    p.add_argument("--seed", type=int, metavar="S", help="fix the choice and order of questions")
    p.add_argument("--bank", metavar="NAME|FILE", help="question bank")
    p.add_argument("--typed", action="store_true", help="answer by typing")
    add_voice_option(p, subcommand=True)


def run(args: argparse.Namespace) -> int:
    from interviewer.compose import open_app

    return open_app(args, mode="rapid")
