"""``interviewer data --path`` shows where everything lives;
``interviewer data --delete [--yes]`` removes every attempt, recording,
export and the schedule (the data folder's contents)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "data"
HELP = "show where attempts, audio and settings are kept, or delete them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group()
    what.add_argument("--path", action="store_true", help="print where data lives (the default)")
    what.add_argument(
        "--delete", action="store_true", help="delete all attempts, recordings and exports"
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def locations() -> list[tuple[str, Path]]:
    from interviewer import paths

    return [
        ("data", paths.data_dir()),
        ("database", paths.database_path()),
        ("audio", paths.audio_dir()),
        ("exports", paths.exports_dir()),
        ("settings", paths.settings_path()),
        ("model cache", paths.models_dir()),
    ]


def run(args: argparse.Namespace) -> int:
    if args.delete:
        return _delete(args.yes)
    width = max(len(name) for name, _ in locations())
    for name, path in locations():
        print(f"{name:<{width}}  {path}")
    return 0


def _delete(yes: bool) -> int:
    from interviewer import paths
    from interviewer.commands import CommandError

    root = paths.data_dir()
    if not root.exists() or not any(root.iterdir()):
        print(f"nothing to delete in {root}")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise CommandError(
                f"refusing to delete {root} without confirmation; add --yes to delete it non-interactively"
            )
        answer = input(f"Delete every attempt, recording and export in {root}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    removed, failed = delete_contents(root)
    if failed:
        raise CommandError(f"could not delete {failed[0]}; close the trainer and try again")
    print(f"deleted {removed} items from {root}")
    return 0


def delete_contents(root: Path) -> tuple[int, list[Path]]:
    """Remove everything inside ``root`` (not ``root`` itself)."""
    import shutil

    removed = 0
    failed: list[Path] = []
    for child in sorted(root.iterdir()):
        try:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
            removed += 1
        except OSError:
            failed.append(child)
    return removed, failed
