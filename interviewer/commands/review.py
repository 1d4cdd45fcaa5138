"""``interviewer review``: browse, compare and re-grade saved attempts."""

from __future__ import annotations

import argparse

NAME = "review"
HELP = "review saved attempts: transcripts, grades, audio, progress"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bank", metavar="NAME|FILE", help="question bank")


def run(args: argparse.Namespace) -> int:
    from interviewer.compose import open_app

    return open_app(args, mode="review")
