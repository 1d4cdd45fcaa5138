"""``interviewer practice``: a spoken practice session in the trainer.

This module is also where the app is composed for every interactive command
(``open_app``): the real speaker, recorder and transcriber are built lazily in
the app's background worker, never at import, and each missing part becomes a
one-line notice (typed answers always work).
"""

from __future__ import annotations

import argparse
from typing import Any

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


def run(args: argparse.Namespace) -> int:
    return open_app(args, mode="practice")


def session_config(args: argparse.Namespace, mode: str, settings: Any, bank: Any):
    """The session the command line asks for."""
    from interviewer.session.model import SessionConfig

    count = getattr(args, "count", None)
    if mode == "rapid":
        return SessionConfig(
            mode="rapid",
            bank=bank.name,
            count=count or settings.rapid_count,
            topics=tuple(getattr(args, "topic", None) or ()),
            seed=getattr(args, "seed", None),
            time_limit_s=getattr(args, "seconds", None) or settings.rapid_answer_s,
        )
    return SessionConfig(
        mode="practice",
        bank=bank.name,
        count=count or settings.session_count,
        topics=tuple(getattr(args, "topic", None) or ()),
        seed=getattr(args, "seed", None),
    )


def open_app(args: argparse.Namespace, mode: str | None) -> int:
    """Open the trainer on the home screen (``mode`` None) or straight into a
    practice session, a rapid-fire round or the review screen."""
    import sys

    from interviewer.cli import CommandError
    from interviewer.instance import (
        AnotherInstance,
        InstanceLock,
        exit_after_interrupt,
        keep_answer,
        termination_as_interrupt,
    )

    try:
        lock = InstanceLock().acquire()
    except AnotherInstance as exc:
        raise CommandError(str(exc)) from None
    app = None
    interrupted = False
    try:
        app = build_app(args, mode)
        with termination_as_interrupt():
            try:
                app.run()
            except KeyboardInterrupt:
                print(keep_answer(app.current_engine()), file=sys.stderr)
                interrupted = True
    finally:
        if app is not None:
            app.deps.store.close()
        lock.release()
    if interrupted:
        exit_after_interrupt()
    return 0


def build_app(args: argparse.Namespace, mode: str | None):
    """The app with the real store, bank and (lazily loaded) audio ports."""
    import random

    from interviewer.cli import CommandError
    from interviewer.config import load_settings
    from interviewer.session.store import Store, StoreError
    from interviewer.tui.app import make_app
    from interviewer.tui.deps import StartRequest

    settings = load_settings()
    bank = _load_bank(getattr(args, "bank", None) or settings.bank)
    try:
        store = Store()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    typed = bool(getattr(args, "typed", False))
    config = session_config(args, mode, settings, bank) if mode in ("practice", "rapid") else None

    def engine_factory(cfg: Any, ports: Any) -> Any:
        # imported here, on a worker thread: the engine pulls in numpy
        from interviewer.session.engine import Ports, SessionEngine

        return SessionEngine(bank, store, ports or Ports(), app.settings, cfg,
                             rng=random.Random(cfg.seed))

    app = make_app(settings, engine_factory, real_ports(settings, typed, bank), store, bank,
                   start=StartRequest(mode, config, typed))
    return app


def real_ports(settings: Any, typed: bool, bank: Any = None):
    """A loader of the real ports, run on the app's background thread."""
    from interviewer.tui.deps import LoadedPorts, PortsLoader

    def load(progress) -> LoadedPorts:
        from interviewer.session.engine import Ports
        from questions import grade_question

        notices: list[str] = []
        speaker = recorder = transcriber = None
        if not typed:
            progress("preparing speech output", 0.05)
            speaker = _part(notices, "speech output", lambda: _speaker(settings))
            progress("loading the speech recogniser", 0.15)
            transcriber = _part(notices, "speech recognition", lambda: _transcriber(settings, progress))
            if transcriber is not None:
                recorder = _part(notices, "microphone", lambda: _recorder(settings))
        progress("speech parts ready", 1.0)
        ports = Ports(speaker=speaker, recorder=recorder, transcriber=transcriber,
                      grader=grade_question)
        return LoadedPorts(ports, tuple(notices))

    def warm_up(progress) -> tuple[str, ...]:
        notices: list[str] = []
        progress("loading the grader's language model", 1.0)
        _part(notices, "semantic grading", _warm_grader)
        # prepare every rubric now, so no first grade of a question waits for it
        if bank is not None:
            _part(notices, "rubric preparation", lambda: _prepare_rubrics(bank))
        return tuple(notices)

    return PortsLoader(load, warm_up)


def _part(notices: list[str], what: str, build):
    try:
        return build()
    except Exception as exc:  # every part is optional: typed answers always work
        text = str(exc).strip().splitlines()
        notices.append(f"{what} unavailable: {text[0] if text else type(exc).__name__}")
        return None


def _speaker(settings: Any):
    from audio.tts import Speaker
    from interviewer import paths

    if not settings.speak_questions:
        return None
    return Speaker(paths.tts_cache_dir(), voice=settings.voice, rate=settings.rate,
                   output_device=settings.output_device)


def _transcriber(settings: Any, progress):
    from audio.transcriber import make_transcriber
    from interviewer import paths

    t = make_transcriber(engine=settings.engine, model=settings.whisper_model,
                         threads=settings.threads, cache_dir=paths.cache_dir(),
                         beam_size=settings.beam_size)

    def scaled(step: str, fraction: float | None = None) -> None:
        progress(step, 0.15 + 0.7 * (fraction or 0.0))

    t.load(progress=scaled)
    return t


def _recorder(settings: Any):
    from audio.recorder import Recorder, RecorderSettings

    return Recorder(RecorderSettings(
        device=settings.input_device,
        silence_timeout_s=settings.silence_timeout_s,
        max_duration_s=settings.max_answer_s,
    ))


def _prepare_rubrics(bank: Any) -> None:
    from questions import matcher

    for q in bank.questions:
        matcher.prepare(q)


def _warm_grader() -> None:
    from questions import matcher

    if not matcher.load():
        raise RuntimeError("the embedding model could not be loaded; grading by words only")


def _load_bank(spec: str | None):
    import questions
    from interviewer.cli import CommandError

    try:
        return questions.load_bank(spec) if spec else questions.default_bank()
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
