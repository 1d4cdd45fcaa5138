"""What every speech engine shares: renders cached on disk as WAV files,
rendering ahead on a background thread, and reading aloud through PortAudio,
cancellable.

* ``CachedSpeaker`` is the base of both engines (``audio.tts.Speaker``,
  espeak-ng through pyttsx3, and ``audio.piper_voice.PiperSpeaker``): an
  engine says where a text's WAV is cached and how to render it; ``render``,
  ``prepare`` and ``speak`` are the same for both;
* ``prepare(text)`` renders into the cache on one background thread per
  speaker, one text at a time, so that a question read later starts at once;
  ``speak`` of a text not yet cached renders it on that thread too (ahead of
  anything only prepared) and can be cancelled while it waits;
* playback goes through a sounddevice ``OutputStream`` (the same audio path as
  recording): the callback hands PortAudio the samples block by block, and
  when ``cancel`` is set the stream is aborted, which drops what is queued, so
  the voice stops within a few tens of milliseconds (``POLL_S`` plus the
  device's buffer).
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import hashlib
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio import devices
from audio.clip import resample
from audio.errors import AudioError, NoPortAudio, SpeechUnavailable, one_line

POLL_S = 0.02
"""How often playback looks at the cancel flag."""


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    languages: tuple[str, ...] = ()


def valid_wav(path: Path) -> bool:
    """True when ``path`` is a readable WAV file holding at least one frame."""
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
        return bool(text.strip()) and valid_wav(self.cached_path(text))

    def render(self, text: str) -> Path:
        """The WAV of ``text`` (mono 16-bit), from the cache when already
        rendered. Needs no sound device. One rendering at a time per speaker."""
        if not text.strip():
            raise SpeechUnavailable("Nothing to say: the question text is empty")
        out = self.cached_path(text)
        if valid_wav(out):
            return out
        with self._render_lock:
            if valid_wav(out):  # rendered while this call waited
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
        if path is None or not valid_wav(path):
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

