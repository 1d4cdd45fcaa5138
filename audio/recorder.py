"""Recording a spoken answer: 16 kHz mono, streamed to a WAV file as it comes.

Three parties, so that nothing slow happens on PortAudio's audio thread:

* the PortAudio callback only copies each block into a queue and notes the
  time it was called;
* the writer thread ("recorder-writer") takes blocks from the queue,
  resamples them to 16 kHz if the device would not record at 16 kHz, appends
  them to the WAV file (flushed, with the header's sizes patched, every
  ``flush_every_s``, so a killed process loses at most that much and leaves a
  readable file), reports the level (RMS dBFS) and runs voice activity
  detection, which ends the answer after ``silence_timeout_s`` of silence once
  speech has begun; it also enforces ``max_duration_s`` and watches for a
  device that stopped delivering (PortAudio raises nothing when a device
  disappears: the callbacks just stop);
* the caller: ``start()``, then ``wait()`` and/or ``stop()``.

``repair_wav()`` fixes the header of a file cut short by a crash.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audio import devices
from audio.clip import SAMPLE_RATE, AudioFileError
from audio.errors import NoMicrophone, one_line
from audio.results import Recording, StopReason
from audio.vad import VadSettings, VoiceActivity, dbfs

HEADER_BYTES = 44
"""Size of the canonical PCM WAV header the recorder writes."""
DEVICE_LOST = (
    "The microphone stopped delivering audio (device lost); the answer so far is kept"
)


@dataclass(frozen=True)
class RecorderSettings:
    """How answers are recorded and when a recording ends by itself."""

    device: str | int | None = None
    """Input device index or name; None is the system default."""
    silence_timeout_s: float = 3.0
    """End the answer after this much silence once speech has begun."""
    max_duration_s: float = 180.0
    """End the answer at this length (stopped_by "limit")."""
    no_speech_timeout_s: float | None = None
    """End (stopped_by "silence") when nobody has spoken for this long; None: never."""
    min_speech_s: float = 0.25
    """Less speech than this in total counts as no speech."""
    flush_every_s: float = 0.5
    block_s: float = 0.05
    """PortAudio block length."""
    watchdog_s: float = 1.0
    """No callback for this long means the device is gone."""
    startup_grace_s: float = 3.0
    """How long the first block may take to arrive."""
    vad: VadSettings = field(default_factory=VadSettings)


class StreamResampler:
    """Block-by-block resampling to 16 kHz without seams between blocks:
    a windowed-sinc low-pass with carried history, then linear interpolation
    with a carried position."""

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE, taps: int = 63) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.step = rate_in / rate_out
        if rate_out < rate_in:
            cutoff = 0.5 * rate_out / rate_in
            n = np.arange(taps) - (taps - 1) / 2
            h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
            self._h: np.ndarray | None = h / h.sum()
            self._hist = np.zeros(taps - 1)
        else:
            self._h = None
            self._hist = np.zeros(0)
        self._pos = 1.0 + len(self._hist) / 2
        """Next output position, in input samples, relative to ``_tail``: the
        first output lands on the first input sample, past the filter's delay."""
        self._tail = np.zeros(1)
        """The last filtered sample of the previous block."""

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, dtype=np.float64)
        if self._h is not None:
            padded = np.concatenate([self._hist, x])
            self._hist = padded[len(padded) - len(self._hist) :]
            x = np.convolve(padded, self._h, mode="valid")
        y = np.concatenate([self._tail, x])
        last = len(y) - 1
        positions = np.arange(self._pos, last, self.step)
        out: np.ndarray = np.interp(positions, np.arange(len(y)), y)
        self._pos = (positions[-1] + self.step if len(positions) else self._pos) - last
        self._tail = y[-1:]
        return out.astype(np.float32)


# --- WAV file written while recording -----------------------------------------


def _header(data_bytes: int, rate: int = SAMPLE_RATE) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class _WavSink:
    """A 16-bit mono WAV that is valid on disk after every ``flush()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._f.write(_header(0))
        self._f.flush()
        self.frames = 0

    def write(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        self._f.write(pcm.tobytes())
        self.frames += len(pcm)

    def flush(self) -> None:
        data = self.frames * 2
        self._f.seek(4)
        self._f.write(struct.pack("<I", 36 + data))
        self._f.seek(40)
        self._f.write(struct.pack("<I", data))
        self._f.seek(0, os.SEEK_END)
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            os.fsync(self._f.fileno())
            self._f.close()


def repair_wav(path: str | Path) -> int:
    """Fix the RIFF and data sizes of a PCM WAV cut short (e.g. by a crash);
    returns the number of sample frames now in the file. ``AudioFileError``
    when the file is not a WAV."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise AudioFileError(f"{p}: cannot read ({exc.strerror})") from None
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise AudioFileError(f"{p}: not a WAV file, cannot repair it")
    pos, block_align, data_at = 12, 2, None
    while pos + 8 <= len(raw):
        cid = raw[pos : pos + 4]
        size = struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        if cid == b"fmt ":
            block_align = max(1, struct.unpack("<H", raw[pos + 20 : pos + 22])[0])
        if cid == b"data":
            data_at = pos + 8
            break
        pos += 8 + size + (size & 1)
    if data_at is None:
        raise AudioFileError(f"{p}: no audio data chunk, cannot repair it")
    data = len(raw) - data_at
    data -= data % block_align
    with open(p, "r+b") as f:
        f.truncate(data_at + data)
        f.seek(4)
        f.write(struct.pack("<I", data_at + data - 8))
        f.seek(data_at - 4)
        f.write(struct.pack("<I", data))
    return data // block_align


# --- the recorder ---------------------------------------------------------------


class Recorder:
    """Records one answer at a time (implements the session's ``Recorder`` port).

    ``feed`` receives every block of 16 kHz float32 samples (on the writer
    thread), e.g. for incremental transcription; ``on_level`` (given to
    ``start``) receives the level of each block in dBFS.
    """

    def __init__(
        self,
        settings: RecorderSettings | None = None,
        feed: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.settings = settings or RecorderSettings()
        self.feed = feed
        self._reset()

    def _reset(self) -> None:
        self._stream: Any = None
        self._writer: threading.Thread | None = None
        self._queue: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._ended = threading.Event()
        self._stop_requested = threading.Event()
        self._stopped_by: StopReason | None = None
        self._error: str | None = None
        self._last_callback = 0.0
        self._callbacks = 0
        self._vad: VoiceActivity | None = None
        self._sink: _WavSink | None = None
        self._level = -120.0
        self._result: Recording | None = None
        self._device_name = ""
        self._rate_in = SAMPLE_RATE
        self._feed_errors = 0
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load PortAudio and look the microphone up now (on a background
        thread at start-up), so that the first ``start`` opens the stream at
        once: about 110 ms for a first start without it, 5-15 ms after it,
        measured here, and that time is speech lost when someone starts
        talking as they press the key. Never raises: a problem is reported
        by ``start``."""
        try:
            sd = devices.sounddevice()
            self._pick_format(sd, devices.resolve_input(self.settings.device))
        except Exception:  # noqa: BLE001 - start() reports it, with its fix
            pass

    # -- the port --------------------------------------------------------
    def start(self, wav_path: Path, on_level: Callable[[float], None] | None = None) -> None:
        """Open the microphone and start writing ``wav_path``. Raises
        ``NoPortAudio`` / ``NoMicrophone``."""
        if self._writer is not None and self._result is None:
            raise RuntimeError("the recorder is already recording")
        self._reset()
        sd = devices.sounddevice()
        dev = devices.resolve_input(self.settings.device)
        rate, channels = self._pick_format(sd, dev)
        self._rate_in = rate
        self._device_name = dev.name
        self._vad = VoiceActivity(self.settings.vad)
        resampler = StreamResampler(rate) if rate != SAMPLE_RATE else None

        def callback(indata: np.ndarray, _frames: int, _time: object, _status: object) -> None:
            self._last_callback = time.monotonic()
            self._callbacks += 1
            self._queue.put(indata[:, 0].copy() if channels == 1 else indata.mean(axis=1))

        try:
            with devices.quiet_fds(stdout=False):
                stream = sd.InputStream(
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    device=dev.index,
                    blocksize=max(1, int(rate * self.settings.block_s)),
                    callback=callback,
                )
        except Exception as exc:
            raise NoMicrophone(
                f"Cannot open the microphone {dev.name!r} ({one_line(exc)}); "
                "check the device or type your answer instead"
            ) from None
        try:
            self._sink = _WavSink(Path(wav_path))
        except OSError as exc:
            stream.close()
            raise NoMicrophone(
                f"Cannot write the recording to {wav_path} ({exc.strerror})"
            ) from None
        self._stream = stream
        self._started_at = time.monotonic()
        self._writer = threading.Thread(
            target=self._write_loop, args=(on_level, resampler), name="recorder-writer",
            daemon=True,
        )
        self._writer.start()
        try:
            with devices.quiet_fds(stdout=False):
                stream.start()
        except Exception as exc:
            self._finish("device_lost", f"Cannot start recording ({one_line(exc)})")
            self._writer.join()
            raise NoMicrophone(
                f"Cannot start recording from {dev.name!r} ({one_line(exc)}); "
                "type your answer instead"
            ) from None

    def stop(self) -> Recording:
        """Stop (unless it already stopped by itself) and return the recording;
        the WAV file is complete when this returns."""
        if self._writer is None:
            raise RuntimeError("the recorder was not started")
        if not self._ended.is_set():
            self._finish("user", None)
        self._writer.join()
        assert self._result is not None
        return self._result

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recording ends or ``timeout``; True when it ended
        by itself (silence, limit, device lost)."""
        self._ended.wait(timeout)
        return self._ended.is_set() and self._stopped_by not in (None, "user", "cancelled")

    # -- live state ------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._writer is not None and not self._ended.is_set()

    @property
    def elapsed_s(self) -> float:
        return self._sink.frames / SAMPLE_RATE if self._sink else 0.0

    @property
    def speech_started(self) -> bool:
        return bool(self._vad and self._vad.speech_started)

    # -- internals -------------------------------------------------------
    def _pick_format(self, sd: Any, dev: devices.Device) -> tuple[int, int]:
        for rate in (SAMPLE_RATE, int(dev.default_samplerate)):
            for channels in (1, min(2, max(1, dev.max_input_channels))):
                try:
                    with devices.quiet_fds(stdout=False):
                        sd.check_input_settings(
                            device=dev.index, samplerate=rate, channels=channels,
                            dtype="float32",
                        )
                    return rate, channels
                except Exception:
                    continue
        return int(dev.default_samplerate), 1

    def _finish(self, reason: StopReason, error: str | None) -> None:
        """Ask the writer to end (any thread)."""
        with self._lock:
            if self._stopped_by is not None:
                return
            self._stopped_by = reason
            self._error = error
        self._stop_requested.set()
        self._queue.put(None)

    def _write_loop(
        self, on_level: Callable[[float], None] | None, resampler: StreamResampler | None
    ) -> None:
        s = self.settings
        sink, vad = self._sink, self._vad
        assert sink is not None and vad is not None
        last_flush = time.monotonic()
        try:
            while True:
                try:
                    block = self._queue.get(timeout=0.1)
                except queue.Empty:
                    block = None
                    if not self._stop_requested.is_set():
                        self._watchdog()
                        continue
                if block is None:
                    if self._stop_requested.is_set():
                        break
                    continue
                if resampler is not None:
                    block = resampler.process(block)
                self._consume(block, sink, vad, on_level)
                now = time.monotonic()
                if now - last_flush >= s.flush_every_s:
                    sink.flush()
                    last_flush = now
                if not self._stop_requested.is_set():
                    self._check_limits(vad, sink)
                    self._watchdog()
        finally:
            self._close_stream()
            # blocks still queued after the stop belong to the answer
            self._drain(sink, vad, resampler)
            sink.close()
            self._result = self._recording(sink, vad)
            self._ended.set()

    def _consume(self, block: np.ndarray, sink: _WavSink, vad: VoiceActivity,
                 on_level: Callable[[float], None] | None) -> None:
        sink.write(block)
        vad.feed(block)
        self._level = dbfs(block)
        if on_level is not None:
            try:
                on_level(self._level)
            except Exception:
                pass
        if self.feed is not None:
            try:
                self.feed(block)
            except Exception:
                self._feed_errors += 1

    def _drain(self, sink: _WavSink, vad: VoiceActivity, resampler: StreamResampler | None) -> None:
        while True:
            try:
                block = self._queue.get_nowait()
            except queue.Empty:
                return
            if block is None:
                continue
            if resampler is not None:
                block = resampler.process(block)
            self._consume(block, sink, vad, None)

    def _check_limits(self, vad: VoiceActivity, sink: _WavSink) -> None:
        s = self.settings
        elapsed = sink.frames / SAMPLE_RATE
        if elapsed >= s.max_duration_s:
            self._finish("limit", None)
        elif vad.speech_started and vad.silence_s >= s.silence_timeout_s:
            self._finish("silence", None)
        elif (
            not vad.speech_started
            and s.no_speech_timeout_s is not None
            and elapsed >= s.no_speech_timeout_s
        ):
            self._finish("silence", None)

    def _watchdog(self) -> None:
        now = time.monotonic()
        stream = self._stream
        inactive = stream is not None and self._callbacks > 0 and not stream.active
        if self._callbacks == 0:
            late = now - self._started_at > self.settings.startup_grace_s
        else:
            late = now - self._last_callback > self.settings.watchdog_s
        if late or inactive:
            self._finish("device_lost", DEVICE_LOST)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            with devices.quiet_fds(stdout=False):
                if self._stopped_by == "device_lost":
                    stream.abort(ignore_errors=True)
                else:
                    stream.stop(ignore_errors=True)
                stream.close(ignore_errors=True)
        except Exception:
            pass

    def _recording(self, sink: _WavSink, vad: VoiceActivity) -> Recording:
        segments = vad.segments()
        speech = sum(e - s for s, e in segments)
        detected = speech >= self.settings.min_speech_s
        return Recording(
            path=sink.path,
            duration_s=round(sink.frames / SAMPLE_RATE, 3),
            speech_detected=detected,
            stopped_by=self._stopped_by or "user",
            speech_start_s=vad.speech_start_s if detected else None,
            speech_end_s=vad.speech_end_s if detected else None,
            pauses=tuple(vad.pauses()) if detected else (),
            error=self._error,
            extra={
                "device": self._device_name,
                "device_rate": self._rate_in,
                "speech_s": round(speech, 3),
                "segments": [list(seg) for seg in segments],
                "feed_errors": self._feed_errors,
            },
        )

