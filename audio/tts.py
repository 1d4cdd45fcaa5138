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

``render()`` works without any sound device (tests, benchmarks).
"""

from __future__ import annotations

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
from typing import Any, TypeVar

import numpy as np

from audio import devices
from audio.clip import resample
from audio.errors import AudioError, NoPortAudio, SpeechUnavailable, one_line

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


def cache_key(text: str, voice: str | None, rate: int) -> str:
    blob = "\x1f".join([text.strip(), voice or "", str(int(rate))]).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:24]


class Speaker:
    """Speaks questions (implements the session's ``Speaker`` port).

    ``voice`` is a pyttsx3 voice id (None: espeak's default); ``rate`` is in
    words per minute; ``output_device`` is an index or name (None: default).
    """

    def __init__(
        self,
        cache_dir: Path,
        voice: str | None = None,
        rate: int = 170,
        output_device: str | int | None = None,
        render_timeout_s: float = RENDER_TIMEOUT_S,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.rate = int(rate)
        self.output_device = output_device
        self.render_timeout_s = render_timeout_s

    # -- rendering -------------------------------------------------------
    def cached_path(self, text: str) -> Path:
        return self.cache_dir / f"{cache_key(text, self.voice, self.rate)}.wav"

    def render(self, text: str) -> Path:
        """The WAV of ``text`` (22.05 kHz mono 16-bit), from the cache when
        already rendered. Needs no sound device."""
        if not text.strip():
            raise SpeechUnavailable("Nothing to say: the question text is empty")
        out = self.cached_path(text)
        if _valid_wav(out):
            return out
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpeechUnavailable(
                f"Cannot write rendered speech to {self.cache_dir} ({exc.strerror})"
            ) from None
        job = _render_job(text, out, self.voice, self.rate, self.render_timeout_s)
        return _engine_thread().submit(job, timeout=self.render_timeout_s + 5.0)

    def list_voices(self) -> list[Voice]:
        """The voices espeak-ng offers."""

        def job() -> list[Voice]:
            raw = _run_child({"list": True}, self.render_timeout_s)
            data = json.loads(raw.rsplit("\x1e", 1)[-1])
            return [Voice(v["id"], v["name"], tuple(v["languages"])) for v in data]

        return _engine_thread().submit(job, timeout=self.render_timeout_s)

    # -- playback --------------------------------------------------------
    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        """Read ``text`` aloud; returns when done or soon after ``cancel`` is set."""
        if cancel is not None and cancel.is_set():
            return
        path = self.render(text)
        if cancel is not None and cancel.is_set():
            return
        play_file(path, cancel=cancel, device=self.output_device)


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

