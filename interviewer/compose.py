"""The composition root: where the real parts are picked and the app is
built, for every interactive command (``interviewer``, ``practice``,
``rapid``, ``review``) and for the headless ones that need a bank.

The real speaker, recorder and transcriber are built lazily in the app's
background worker, never at import, and each missing part becomes a
one-line notice (typed answers always work). Tests build the same app over
fakes with ``interviewer.tui.app.make_app``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from audio.errors import one_line
from interviewer.commands import CommandError

if TYPE_CHECKING:
    from audio.piper_voice import PiperSpeaker
    from audio.recorder import Recorder
    from audio.transcriber import FasterWhisperTranscriber, WhisperTranscriber
    from audio.tts import Speaker
    from interviewer.config import Settings
    from interviewer.session.engine import SessionEngine
    from interviewer.session.model import Mode, SessionConfig
    from interviewer.session.ports import Ports
    from interviewer.tui.app import InterviewerApp
    from interviewer.tui.deps import PortsLoader, ProgressFn
    from questions.model import Bank

T = TypeVar("T")


def add_voice_option(parser: argparse.ArgumentParser, subcommand: bool = False) -> None:
    """``--voice ENGINE``: the speech engine of this run, over the settings'
    choice. On a sub-command it is left unset unless given there, so that
    ``interviewer --voice piper practice`` keeps the top-level choice."""
    from interviewer.config import SPEECH_ENGINES

    parser.add_argument(
        "--voice", dest="speech_engine", choices=SPEECH_ENGINES,
        default=argparse.SUPPRESS if subcommand else None,
        help="speech engine that reads the questions, for this run: pyttsx3 (the system "
             "voice) or piper (a natural voice); default: the one chosen in Settings",
    )  # fmt: skip


def run_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with this run's command-line choices applied. A voice id
    belongs to its engine, so choosing another engine with ``--voice`` uses
    that engine's default voice."""
    engine = getattr(args, "speech_engine", None)
    if engine and engine != settings.speech_engine:
        return settings.updated(speech_engine=engine, voice=None)
    return settings


def load_bank(spec: str | None) -> Bank:
    """The bank named (a shipped name or a file), else the built-in one;
    a bank that cannot be loaded is a ``CommandError`` in one line."""
    import questions

    try:
        return questions.load_bank(spec) if spec else questions.default_bank()
    except (OSError, ValueError) as exc:
        raise CommandError(one_line(exc)) from None


def session_config(
    args: argparse.Namespace, mode: Mode, settings: Settings, bank: Bank
) -> SessionConfig:
    """The session the command line asks for (practice or rapid)."""
    from interviewer.session.model import SessionConfig

    count = getattr(args, "count", None)
    topics = tuple(getattr(args, "topic", None) or ())
    seed = getattr(args, "seed", None)
    if mode == "rapid":
        return SessionConfig(
            mode="rapid",
            bank=bank.name,
            count=count or settings.rapid_count,
            topics=topics,
            seed=seed,
            time_limit_s=getattr(args, "seconds", None) or settings.rapid_answer_s,
        )
    return SessionConfig(
        mode="practice", bank=bank.name, count=count or settings.session_count,
        topics=topics, seed=seed,
    )


def open_app(args: argparse.Namespace, mode: Mode | None) -> int:
    """Open the trainer on the home screen (``mode`` None) or straight into a
    practice session, a rapid-fire round or the review screen."""
    import sys

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


def build_app(args: argparse.Namespace, mode: Mode | None) -> InterviewerApp:
    """The app with the real store, bank and (lazily loaded) audio ports."""
    import random

    from interviewer.config import load_settings
    from interviewer.session.store import Store, StoreError
    from interviewer.tui.app import make_app
    from interviewer.tui.deps import StartRequest

    settings = run_settings(load_settings(), args)
    bank = load_bank(getattr(args, "bank", None) or settings.bank)
    try:
        store = Store()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    typed = bool(getattr(args, "typed", False))
    config = session_config(args, mode, settings, bank) if mode in ("practice", "rapid") else None

    def engine_factory(cfg: SessionConfig, ports: Ports | None) -> SessionEngine:
        # imported here, on a worker thread: the engine pulls in numpy
        from interviewer.session.engine import SessionEngine
        from interviewer.session.ports import Ports

        return SessionEngine(bank, store, ports or Ports(), app.settings, cfg,
                             rng=random.Random(cfg.seed))

    app = make_app(settings, engine_factory, real_ports(settings, typed, bank), store, bank,
                   start=StartRequest(mode, config, typed))
    return app


def real_ports(settings: Settings, typed: bool, bank: Bank | None = None) -> PortsLoader:
    """A loader of the real ports, run on the app's background thread."""
    from interviewer.tui.deps import LoadedPorts, PortsLoader

    loaded_voice: list[Speaker | PiperSpeaker] = []

    def load(progress: ProgressFn) -> LoadedPorts:
        from interviewer.session.ports import Ports
        from questions import grade_question

        notices: list[str] = []
        speaker = recorder = transcriber = None
        if not typed:
            progress("preparing speech output", 0.05)
            speaker = _part(notices, "speech output", lambda: _speaker(settings))
            loaded_voice[:] = [speaker] if speaker is not None else []
            progress("loading the speech recogniser", 0.15)
            transcriber = _part(notices, "speech recognition", lambda: _transcriber(settings, progress))
            if transcriber is not None:
                recorder = _part(notices, "microphone", lambda: _recorder(settings))
        progress("speech parts ready", 1.0)
        ports = Ports(speaker=speaker, recorder=recorder, transcriber=transcriber,
                      grader=grade_question)
        return LoadedPorts(ports, tuple(notices))

    def warm_up(progress: ProgressFn) -> tuple[str, ...]:
        notices: list[str] = []
        progress("loading the grader's language model", 1.0)
        _part(notices, "semantic grading", _warm_grader)
        # prepare every rubric now, so no first grade of a question waits for it
        if bank is not None:
            _part(notices, "rubric preparation", lambda: _prepare_rubrics(bank))
            if settings.speech_engine == "piper":
                for speaker in loaded_voice:
                    _render_bank_ahead(speaker, bank)
        return tuple(notices)

    return PortsLoader(load, warm_up)


def _part(notices: list[str], what: str, build: Callable[[], T]) -> T | None:
    try:
        return build()
    except Exception as exc:  # every part is optional: typed answers always work
        notices.append(f"{what} unavailable: {one_line(exc)}")
        return None


def _speaker(settings: Settings) -> Speaker | PiperSpeaker | None:
    """The speaker of the chosen engine; Piper's voice is loaded here, on the
    background thread, so the first question does not wait for it."""
    from audio.tts import make_speaker
    from interviewer import paths

    if not settings.speak_questions:
        return None
    return make_speaker(settings.speech_engine, paths.tts_cache_dir(), voice=settings.voice,
                        rate=settings.rate, output_device=settings.output_device, warm=True)


def _transcriber(
    settings: Settings, progress: ProgressFn
) -> WhisperTranscriber | FasterWhisperTranscriber:
    from audio.transcriber import make_transcriber
    from interviewer import paths

    t = make_transcriber(engine=settings.engine, model=settings.whisper_model,
                         threads=settings.threads, cache_dir=paths.cache_dir(),
                         beam_size=settings.beam_size)

    def scaled(step: str, fraction: float | None = None) -> None:
        progress(step, 0.15 + 0.7 * (fraction or 0.0))

    t.load(progress=scaled)
    return t


def _recorder(settings: Settings) -> Recorder:
    from audio.recorder import Recorder, RecorderSettings

    recorder = Recorder(RecorderSettings(
        device=settings.input_device,
        silence_timeout_s=settings.silence_timeout_s,
        max_duration_s=settings.max_answer_s,
    ))
    recorder.warm()  # on the loader's thread: the first answer starts at once
    return recorder


def _render_bank_ahead(speaker: Speaker | PiperSpeaker, bank: Bank) -> None:
    """Queue every question of the bank for rendering in the background
    (Piper takes 0.2-0.45 s a question here; renders stay cached on disk),
    so that even a session's first question starts at once. Questions
    already cached cost nothing, and a question being spoken is rendered
    ahead of this queue."""
    for q in bank.questions:
        speaker.prepare(q.spoken_text)


def _prepare_rubrics(bank: Bank) -> None:
    from questions import matcher

    for q in bank.questions:
        matcher.prepare(q)


def _warm_grader() -> None:
    from questions import matcher

    if not matcher.load():
        raise RuntimeError("the embedding model could not be loaded; grading by words only")
