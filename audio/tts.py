"""Reading questions aloud: espeak-ng (through pyttsx3) renders a WAV, PortAudio
plays it.

Why not ``pyttsx3.say()``: on Linux it shells out to ``aplay`` (stray error
lines on the terminal, no way to stop it, no choice of device) and its
``runAndWait`` returns before speech ends. Instead:

* all rendering goes through one dedicated thread fed by a queue, one job at
  a time; each job runs a fresh pyttsx3 engine in a short-lived child process
  (~0.1 s). In a long-lived engine, espeak (initialised once per process and
  asynchronous) was seen to apply a rate change to the wrong utterance or not
  at all, and the driver keeps sticky state (``_save_file``, a single
  ``_text_to_say``); a child process is immune to all that, cannot print onto
  the terminal (its stdout/stderr are pipes, which also swallows the driver's
  "Audio saved to" line without touching this process's file descriptors,
  which a full-screen UI is drawing on), and is killed when it hangs;
* the child renders with ``save_to_file`` and waits for the
  ``finished-utterance`` notification (with a timeout), because
  ``runAndWait`` can return before the file exists;
* renders are cached on disk by a hash of (text, voice, rate); caching,
  background preparation (``prepare``) and cancellable playback are those of
  ``audio.speaking.CachedSpeaker``, shared with the second engine, Piper (a
  neural voice, ``audio.piper_voice``). ``make_speaker`` picks one by name
  and imports Piper only when it is chosen.

``render()`` works without any sound device (tests, benchmarks).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from audio.errors import SpeechUnavailable
from audio.speaking import POLL_S, CachedSpeaker, Voice, cache_key, play, play_file, valid_wav

if TYPE_CHECKING:
    from audio.piper_voice import PiperSpeaker

ENGINES = ("pyttsx3", "piper")
"""The speech engines ``make_speaker`` knows: espeak-ng through pyttsx3 (the
default) and Piper."""
NO_ENGINE = (
    "No speech engine: install espeak-ng (sudo apt-get install espeak-ng); "
    "the question is shown instead"
)
RENDER_TIMEOUT_S = 30.0
"""Longest wait for one rendering before the speech engine is given up on."""

__all__ = ["ENGINES", "POLL_S", "CachedSpeaker", "Speaker", "Voice", "cache_key",
           "make_speaker", "play", "play_file"]

_CHILD = r"""
import json, sys, threading
args = json.loads(sys.argv[1])
try:
    import pyttsx3
    engine = pyttsx3.engine.Engine("espeak")
except Exception as exc:
    print(str(exc).splitlines()[-1] if str(exc) else type(exc).__name__, file=sys.stderr)
    sys.exit(3)
driver = engine.proxy._driver
if args["list"]:
    voices = [
        {"id": str(v.id), "name": str(v.name),
         "languages": [str(x) for x in (getattr(v, "languages", None) or [])]}
        for v in driver.getProperty("voices")
    ]
    sys.stdout.write("\x1e" + json.dumps(voices))
    sys.exit(0)
if args["voice"]:
    try:
        driver.setProperty("voice", args["voice"])
    except Exception:
        sys.exit(4)
driver.setProperty("rate", int(args["rate"]))
done = threading.Event()
engine.connect("finished-utterance", lambda *a, **k: done.set())
engine.save_to_file(args["text"], args["out"])
engine.runAndWait()
sys.exit(0 if done.wait(args["wait"]) else 5)
"""
"""The renderer run in a child process: one fresh engine per rendering."""


T = TypeVar("T")


class _EngineThread:
    """The one thread through which all speech rendering goes, one job at a
    time, fed by a queue. Each job runs pyttsx3 in a short-lived child
    process: espeak is initialised once per process and runs asynchronously,
    and in a long-lived engine a rate or voice change was seen to apply to
    the wrong utterance (or not at all); a fresh engine per rendering costs
    ~0.1 s, is immune to pyttsx3's sticky state (``_save_file``, the
    single ``_text_to_say``), keeps espeak's and the driver's prints off the
    terminal, and can be killed when it hangs."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None
        ] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tts-engine", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T], timeout: float) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, fut))
        try:
            return fut.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise SpeechUnavailable(
                "The speech engine stopped responding; the question is shown instead"
            ) from None

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(job())
            except BaseException as exc:  # handed to the caller's thread
                fut.set_exception(exc)


_shared: _EngineThread | None = None
_shared_lock = threading.Lock()


def _engine_thread() -> _EngineThread:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _EngineThread()
        return _shared


def _run_child(args: dict[str, Any], timeout: float) -> str:
    """Run the renderer; returns its stdout. One-line ``SpeechUnavailable``
    on any failure."""
    payload = {"list": False, "voice": None, "rate": 170, "text": "", "out": "", "wait": timeout}
    payload.update(args)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(payload)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout + 5.0,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise SpeechUnavailable(
            "The speech engine stopped responding; the question is shown instead"
        ) from None
    except OSError as exc:
        raise SpeechUnavailable(f"Cannot start the speech engine ({exc.strerror})") from None
    if proc.returncode == 3:
        raise SpeechUnavailable(NO_ENGINE)
    if proc.returncode == 4:
        raise SpeechUnavailable(
            f"Unknown voice {payload['voice']!r}: choose one listed by 'interviewer doctor'"
        )
    if proc.returncode != 0:
        raise SpeechUnavailable(
            "The speech engine produced no audio; the question is shown instead"
        )
    return proc.stdout


def _render_job(
    text: str, out: Path, voice: str | None, rate: int, wait_s: float
) -> Callable[[], Path]:
    def job() -> Path:
        part = out.with_name(f"{out.stem}.{os.getpid()}.{threading.get_ident()}.part.wav")
        try:
            _run_child({"text": text, "out": str(part), "voice": voice, "rate": int(rate)},
                       wait_s)
            if not valid_wav(part):
                raise SpeechUnavailable(
                    "The speech engine produced no audio; the question is shown instead"
                )
            part.replace(out)
        finally:
            part.unlink(missing_ok=True)
        return out

    return job


class Speaker(CachedSpeaker):
    """Speaks questions with espeak-ng through pyttsx3 (implements the
    session's ``Speaker`` port).

    ``voice`` is a pyttsx3 voice id (None: espeak's default); ``rate`` is in
    words per minute; ``output_device`` is an index or name (None: default).
    """

    engine = "pyttsx3"

    def __init__(
        self,
        cache_dir: Path,
        voice: str | None = None,
        rate: int = 170,
        output_device: str | int | None = None,
        render_timeout_s: float = RENDER_TIMEOUT_S,
    ) -> None:
        super().__init__(cache_dir, output_device)
        self.voice = voice
        self.rate = int(rate)
        self.render_timeout_s = render_timeout_s

    # -- rendering -------------------------------------------------------
    def cached_path(self, text: str) -> Path:
        return self.cache_dir / f"{cache_key(text, self.voice, self.rate)}.wav"

    def _render_to(self, text: str, out: Path) -> None:
        job = _render_job(text, out, self.voice, self.rate, self.render_timeout_s)
        _engine_thread().submit(job, timeout=self.render_timeout_s + 5.0)

    def list_voices(self) -> list[Voice]:
        """The voices espeak-ng offers."""

        def job() -> list[Voice]:
            raw = _run_child({"list": True}, self.render_timeout_s)
            data = json.loads(raw.rsplit("\x1e", 1)[-1])
            return [Voice(v["id"], v["name"], tuple(v["languages"])) for v in data]

        return _engine_thread().submit(job, timeout=self.render_timeout_s)


def make_speaker(
    engine: str,
    cache_dir: Path,
    voice: str | None = None,
    rate: int = 170,
    output_device: str | int | None = None,
    warm: bool = False,
) -> Speaker | PiperSpeaker:
    """The speaker of ``engine`` ("pyttsx3" or "piper"). ``warm`` loads the
    engine now rather than at the first question (Piper's voice model takes
    about a second; pyttsx3 starts a fresh engine for every rendering and has
    nothing to load). ``SpeechUnavailable`` in one line for an unknown engine
    or when Piper is not installed."""
    if engine == "pyttsx3":
        return Speaker(cache_dir, voice=voice, rate=rate, output_device=output_device)
    if engine == "piper":
        from audio.piper_voice import PiperSpeaker

        speaker = PiperSpeaker(cache_dir, voice=voice, rate=rate, output_device=output_device)
        if warm:
            speaker.load()
        return speaker
    raise SpeechUnavailable(
        f"Unknown speech engine {engine!r}: choose one of {', '.join(ENGINES)}"
    )
