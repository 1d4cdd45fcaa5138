"""Incremental transcription: transcribe finished stretches while the person
is still speaking, so that when the answer ends only the tail remains.

    inc = IncrementalTranscriber(transcriber, hint="LoRA, PEFT")
    ...  inc.feed(block)        # from the recorder's callback; never blocks
    transcript = inc.finish()   # transcribes only the tail, joins everything

A worker thread collects the fed audio and, once at least ``min_chunk_s`` has
gathered, cuts it at the next pause of ``min_pause_s`` or more (or, if the
speaker never pauses, at the quietest moment before ``max_chunk_s``) and
transcribes that stretch. Whisper pads every call to a 30 s window, so each call
costs a whole encoder pass: stretches much shorter than ~8 s would multiply the
work. Each stretch is prompted with the hint plus the text so far, for
continuity across cuts; segment timestamps are shifted to absolute times.

The pause finder here is deliberately small and energy based
(:func:`find_pauses`); any function with the same signature can replace it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audio.clip import SAMPLE_RATE, AudioClip
from audio.results import Segment, Transcript
from audio.transcriber import Transcriber, compose_prompt, frame_rms, join_text

PauseFinder = Callable[[np.ndarray, int, float], list[tuple[float, float]]]
"""``(samples, sample_rate, min_pause_s) -> [(start_s, end_s), ...]``."""

PAUSE_FLOOR_RMS = 0.004
"""Frames quieter than this always count as pause (about -48 dBFS)."""
PAUSE_RELATIVE = 0.1
"""... and so do frames under this fraction of the stretch's speech level."""


def find_pauses(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, min_pause_s: float = 0.4
) -> list[tuple[float, float]]:
    """Energy-based pause finder: runs of quiet 30 ms frames lasting at least
    ``min_pause_s``, as (start, end) seconds. "Quiet" adapts to the level of
    the speech in ``samples`` (a tenth of its 95th-percentile frame RMS)."""
    levels = frame_rms(samples, sample_rate)
    if levels.size == 0:
        return []
    frame_s = len(samples) / sample_rate / levels.size if levels.size else 0.03
    threshold = max(PAUSE_FLOOR_RMS, PAUSE_RELATIVE * float(np.percentile(levels, 95)))
    quiet = np.concatenate(([False], levels < threshold, [False]))
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    pauses = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if (end - start) * frame_s >= min_pause_s:
            pauses.append((start * frame_s, end * frame_s))
    return pauses


def next_cut(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    min_chunk_s: float = 8.0,
    max_chunk_s: float = 24.0,
    min_pause_s: float = 0.35,
    pause_finder: PauseFinder = find_pauses,
) -> int | None:
    """Where the first stretch of ``samples`` should end (a sample index): in the
    middle of the first pause that lies past ``min_chunk_s``; failing that, once
    ``max_chunk_s`` has gathered, at the quietest moment between the two; else
    None (wait for more audio)."""
    if len(samples) < min_chunk_s * sample_rate:
        return None
    for start, end in pause_finder(samples, sample_rate, min_pause_s):
        middle = (start + end) / 2
        if min_chunk_s <= middle <= max_chunk_s:
            return int(middle * sample_rate)
        if middle > max_chunk_s:
            break
    if len(samples) >= max_chunk_s * sample_rate:
        return quietest_point(samples, sample_rate, min_chunk_s, max_chunk_s)
    return None


def quietest_point(samples: np.ndarray, sample_rate: int, lo_s: float, hi_s: float) -> int:
    """The sample index at the centre of the quietest 0.3 s between lo_s and hi_s."""
    window = samples[: int(hi_s * sample_rate)]
    levels = frame_rms(window, sample_rate)
    if levels.size == 0:
        return len(window)
    frame_s = len(window) / sample_rate / levels.size
    smooth = np.convolve(levels, np.ones(10) / 10, mode="same")
    first = min(int(lo_s / frame_s), levels.size - 1)
    best = first + int(np.argmin(smooth[first:]))
    return max(1, int(best * frame_s * sample_rate))


def plan_stretches(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    min_chunk_s: float = 8.0,
    max_chunk_s: float = 24.0,
    min_pause_s: float = 0.35,
    pause_finder: PauseFinder = find_pauses,
) -> list[tuple[int, int]]:
    """Cut a whole clip into stretches no longer than ``max_chunk_s`` (the last
    may be shorter than ``min_chunk_s``), as (start, end) sample indices."""
    spans: list[tuple[int, int]] = []
    start = 0
    while len(samples) - start > max_chunk_s * sample_rate:
        cut = next_cut(
            samples[start:], sample_rate, min_chunk_s, max_chunk_s, min_pause_s, pause_finder
        )
        if cut is None:  # cannot happen past max_chunk_s; guards a custom finder
            cut = int(max_chunk_s * sample_rate)
        spans.append((start, start + cut))
        start += cut
    if start < len(samples):
        spans.append((start, len(samples)))
    return spans


@dataclass(frozen=True)
class Stretch:
    """One stretch transcribed by the worker (for diagnostics and benchmarks)."""

    start_s: float
    end_s: float
    elapsed_s: float
    text: str
    final: bool = False
    """True for the tail transcribed after ``finish()``."""


class IncrementalTranscriber:
    """Owns a worker thread that transcribes the answer stretch by stretch."""

    def __init__(
        self,
        transcriber: Transcriber,
        hint: str = "",
        *,
        min_chunk_s: float = 8.0,
        max_chunk_s: float = 24.0,
        min_pause_s: float = 0.35,
        sample_rate: int = SAMPLE_RATE,
        pause_finder: PauseFinder = find_pauses,
    ) -> None:
        if not 0 < min_chunk_s < max_chunk_s <= 30.0:
            raise ValueError("need 0 < min_chunk_s < max_chunk_s <= 30 (whisper's window)")
        self.transcriber = transcriber
        self.hint = hint.strip()
        self.min_chunk_s = min_chunk_s
        self.max_chunk_s = max_chunk_s
        self.min_pause_s = min_pause_s
        self.sample_rate = sample_rate
        self.pause_finder = pause_finder
        self.stretches: list[Stretch] = []
        """Stretches transcribed so far, in order."""
        self._queue: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._pending = np.zeros(0, dtype=np.float32)
        self._offset = 0
        """Absolute sample index where ``_pending`` starts."""
        self._segments: list[Segment] = []
        self._rejected: list[str] = []
        self._engine = ""
        self._model = ""
        self._error: BaseException | None = None
        self._finished = False
        self._cancelled = threading.Event()
        self._worker = threading.Thread(
            target=self._run, name="incremental-transcriber", daemon=True
        )
        self._worker.start()

    # -- called from the recorder thread -----------------------------------

    def feed(self, samples: np.ndarray) -> None:
        """Queue a block of 16 kHz mono float32 samples; returns at once."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        block = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._queue.put(block.copy())

    # -- called by the owner ------------------------------------------------

    def finish(self, timeout: float | None = None) -> Transcript:
        """Transcribe what is left and return the whole transcript;
        ``elapsed_s`` is the time spent here (the wait the user sees)."""
        started = time.perf_counter()
        if not self._finished:
            self._finished = True
            self._queue.put(None)
        self._worker.join(timeout)
        if self._worker.is_alive():
            raise TimeoutError("transcription did not finish in time")
        if self._error is not None:
            raise self._error
        return Transcript(
            text=join_text(self._segments),
            segments=tuple(self._segments),
            duration_s=self._offset / self.sample_rate,
            engine=self._engine,
            model=self._model,
            elapsed_s=time.perf_counter() - started,
            rejected=tuple(self._rejected),
        )

    def cancel(self) -> None:
        """Stop the worker without transcribing the rest."""
        self._cancelled.set()
        self._finished = True
        self._queue.put(None)
        self._worker.join()

    # -- worker thread ------------------------------------------------------

    def _run(self) -> None:
        try:
            done = False
            while not done and not self._cancelled.is_set():
                blocks, done = self._drain()
                if blocks:
                    self._pending = np.concatenate([self._pending, *blocks])
                while not done and not self._cancelled.is_set():
                    cut = self._choose_cut(self._pending)
                    if cut is None:
                        break
                    self._transcribe(cut, final=False)
            if done and not self._cancelled.is_set() and len(self._pending):
                self._transcribe(len(self._pending), final=True)
        except BaseException as exc:  # handed to finish()
            self._error = exc

    def _drain(self) -> tuple[list[np.ndarray], bool]:
        """Wait briefly for audio, then take everything queued."""
        blocks: list[np.ndarray] = []
        try:
            item = self._queue.get(timeout=0.1)
        except queue.Empty:
            return blocks, False
        while True:
            if item is None:
                return blocks, True
            blocks.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return blocks, False

    def _choose_cut(self, pending: np.ndarray) -> int | None:
        """Where to end the next stretch (a sample index), or None to wait."""
        return next_cut(
            pending,
            self.sample_rate,
            self.min_chunk_s,
            self.max_chunk_s,
            self.min_pause_s,
            self.pause_finder,
        )

    def _transcribe(self, cut: int, final: bool) -> None:
        rate = self.sample_rate
        stretch, self._pending = self._pending[:cut], self._pending[cut:]
        offset_s = self._offset / rate
        self._offset += cut
        started = time.perf_counter()
        clip = AudioClip(stretch, rate)
        so_far = join_text(self._segments)
        if getattr(self.transcriber, "accepts_context", False):
            result = self.transcriber.transcribe(clip, self.hint, context=so_far)  # type: ignore[call-arg]
        else:
            result = self.transcriber.transcribe(clip, compose_prompt(self.hint, so_far))
        elapsed = time.perf_counter() - started
        end_s = self._offset / rate
        for seg in result.segments:
            self._segments.append(
                Segment(
                    round(seg.start + offset_s, 3),
                    round(min(seg.end + offset_s, end_s), 3),
                    seg.text,
                )
            )
        self._rejected.extend(f"{r} (stretch at {offset_s:.1f} s)" for r in result.rejected)
        self._engine = self._engine or result.engine
        self._model = self._model or result.model
        self.stretches.append(Stretch(offset_s, end_s, elapsed, result.text, final))
