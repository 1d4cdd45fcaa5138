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
* renders are cached on disk by a hash of (text, voice, rate);
* playback goes through a sounddevice ``OutputStream`` (the same audio path as
  recording) and stops within a few tens of milliseconds when ``cancel`` is set.

``render()`` works without any sound device (tests, benchmarks). ``prepare()``
renders into the cache on a background thread, so that a question read later
starts at once.

The second engine, Piper (a neural voice, ``audio.piper_voice``), shares the
cache, the background preparation and the playback defined here;
``make_speaker`` picks one by name and imports Piper only when it is chosen.
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from audio import devices
from audio.clip import resample
from audio.errors import AudioError, NoPortAudio, SpeechUnavailable, one_line

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
POLL_S = 0.02
"""How often playback looks at the cancel flag."""


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    languages: tuple[str, ...] = ()


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
            if not _valid_wav(part):
                raise SpeechUnavailable(
                    "The speech engine produced no audio; the question is shown instead"
                )
            part.replace(out)
        finally:
            part.unlink(missing_ok=True)
        return out

    return job


def _valid_wav(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() > 0
    except (OSError, wave.Error, EOFError):
        return False


def cache_key(text: str, voice: str | None, rate: int, engine: str = "pyttsx3") -> str:
    parts = [text.strip(), voice or "", str(int(rate))]
    if engine != "pyttsx3":  # pyttsx3's keys predate the second engine
        parts.append(engine)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


class _Preparer:
    """Renders on one background thread, one text at a time, for one speaker.

    Each text is rendered once however often it is asked for: a request for a
    text already waiting or being rendered shares that job. The thread starts
    with the first request and ends when nothing is left to do."""

    def __init__(self, render: Callable[[str], Path], key: Callable[[str], Path]) -> None:
        self._render = render
        self._key = key
        self._lock = threading.Lock()
        self._todo: collections.deque[tuple[str, Path]] = collections.deque()
        self._jobs: dict[Path, concurrent.futures.Future[Path]] = {}
        self._thread: threading.Thread | None = None

    def submit(self, text: str, urgent: bool = False) -> concurrent.futures.Future[Path]:
        """The job rendering ``text``; ``urgent`` puts a new job before the
        ones waiting (the one being rendered is finished first)."""
        key = self._key(text)
        with self._lock:
            fut = self._jobs.get(key)
            if fut is not None:
                if urgent and (text, key) in self._todo:
                    self._todo.remove((text, key))
                    self._todo.appendleft((text, key))
                return fut
            fut = concurrent.futures.Future()
            self._jobs[key] = fut
            if urgent:
                self._todo.appendleft((text, key))
            else:
                self._todo.append((text, key))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tts-prepare",
                                                daemon=True)
                self._thread.start()
            return fut

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is being rendered or waiting; True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            thread.join(left)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._todo:
                    self._thread = None
                    return
                text, key = self._todo.popleft()
                fut = self._jobs[key]
            try:
                fut.set_result(self._render(text))
            except BaseException as exc:  # handed to whoever waits for it
                fut.set_exception(exc)
            finally:
                with self._lock:
                    self._jobs.pop(key, None)


class CachedSpeaker(abc.ABC):
    """What both engines share: renders cached on disk as WAV files, rendering
    ahead on a background thread (``prepare``), and reading aloud through
    PortAudio, cancellable (``speak``). Subclasses say where a text's WAV is
    cached (``cached_path``) and how to make it (``_render_to``)."""

    def __init__(self, cache_dir: Path, output_device: str | int | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.output_device = output_device
        self._render_lock = threading.Lock()
        self._preparer = _Preparer(self.render, self.cached_path)

    # -- rendering -------------------------------------------------------
    @abc.abstractmethod
    def cached_path(self, text: str) -> Path:
        """Where the WAV of ``text`` is cached."""

    @abc.abstractmethod
    def _render_to(self, text: str, out: Path) -> None:
        """Write the WAV of ``text`` to ``out`` (replaced atomically)."""

    def is_cached(self, text: str) -> bool:
        return bool(text.strip()) and _valid_wav(self.cached_path(text))

    def render(self, text: str) -> Path:
        """The WAV of ``text`` (mono 16-bit), from the cache when already
        rendered. Needs no sound device. One rendering at a time per speaker."""
        if not text.strip():
            raise SpeechUnavailable("Nothing to say: the question text is empty")
        out = self.cached_path(text)
        if _valid_wav(out):
            return out
        with self._render_lock:
            if _valid_wav(out):  # rendered while this call waited
                return out
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SpeechUnavailable(
                    f"Cannot write rendered speech to {self.cache_dir} ({exc.strerror})"
                ) from None
            self._render_to(text, out)
        return out

    def prepare(self, text: str) -> None:
        """Render ``text`` into the cache on a background thread, so that a
        later ``speak`` of it starts at once. Returns immediately; asking
        again for a text already cached, waiting or being rendered does
        nothing more. Never raises: a failure shows when the text is spoken."""
        try:
            if text.strip() and not self.is_cached(text):
                self._preparer.submit(text)
        except Exception:  # noqa: BLE001 - preparing is only ever a head start
            pass

    def wait_prepared(self, timeout: float | None = None) -> bool:
        """Block until the background renders are done; True when they are."""
        return self._preparer.idle(timeout)

    # -- playback --------------------------------------------------------
    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        """Read ``text`` aloud; returns when done or soon after ``cancel`` is
        set (within ``POLL_S`` while it is still being rendered: the
        rendering goes on in the background and fills the cache)."""
        if cancel is not None and cancel.is_set():
            return
        path = self.cached_path(text) if text.strip() else None
        if path is None or not _valid_wav(path):
            if cancel is None:
                path = self.render(text)
            else:
                path = self._rendered(text, cancel)
                if path is None:
                    return
        if cancel is not None and cancel.is_set():
            return
        play_file(path, cancel=cancel, device=self.output_device)

    def _rendered(self, text: str, cancel: threading.Event) -> Path | None:
        """Render on the background thread ahead of anything only prepared;
        None when ``cancel`` is set first."""
        if not text.strip():
            raise SpeechUnavailable("Nothing to say: the question text is empty")
        fut = self._preparer.submit(text, urgent=True)
        while True:
            try:
                return fut.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                if cancel.is_set():
                    return None
            except AudioError:
                raise
            except Exception as exc:
                raise SpeechUnavailable(
                    f"The speech engine failed ({one_line(exc)}); the question is shown instead"
                ) from None


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


def play_file(
    path: Path, cancel: threading.Event | None = None, device: str | int | None = None
) -> float:
    """Play a sound file through PortAudio; returns the seconds played.
    ``SpeechUnavailable`` when there is no output device."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return play(np.ascontiguousarray(data, dtype=np.float32), int(rate), cancel, device)


def play(
    samples: np.ndarray,
    rate: int,
    cancel: threading.Event | None = None,
    device: str | int | None = None,
) -> float:
    """Play mono float32 samples; returns the seconds played (less when cancelled)."""
    try:
        sd = devices.sounddevice()
        out = devices.resolve_output(device)
    except NoPortAudio as exc:
        raise SpeechUnavailable(f"{exc}; the question is shown instead") from None
    except (LookupError, AudioError) as exc:
        raise SpeechUnavailable(f"{exc}; the question is shown instead") from None
    try:
        with devices.quiet_fds(stdout=False):
            sd.check_output_settings(device=out.index, samplerate=rate, channels=1,
                                     dtype="float32")
    except Exception:
        target = int(out.default_samplerate)
        samples = resample(samples, rate, target)
        rate = target
    finished = threading.Event()
    position = [0]

    def callback(outdata: np.ndarray, frames: int, _time: object, _status: object) -> None:
        start = position[0]
        chunk = samples[start : start + frames]
        outdata[: len(chunk), 0] = chunk
        if len(chunk) < frames:
            outdata[len(chunk) :, 0] = 0.0
            position[0] = len(samples)
            raise sd.CallbackStop
        position[0] = start + frames

    try:
        with devices.quiet_fds(stdout=False):
            stream = sd.OutputStream(
                samplerate=rate, channels=1, dtype="float32", device=out.index,
                callback=callback, finished_callback=finished.set,
            )
            stream.start()
    except Exception as exc:
        raise SpeechUnavailable(
            f"Cannot play sound on {out.name!r} ({one_line(exc)}); the question is shown instead"
        ) from None
    deadline = time.monotonic() + len(samples) / rate + 2.0
    try:
        while not finished.wait(POLL_S):
            if cancel is not None and cancel.is_set():
                stream.abort()
                break
            if time.monotonic() > deadline:  # the device went away mid-question
                stream.abort()
                break
    finally:
        with devices.quiet_fds(stdout=False):
            stream.close(ignore_errors=True)
    return min(position[0], len(samples)) / rate

