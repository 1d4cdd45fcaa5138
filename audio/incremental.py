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

Whisper now and then stops early inside a stretch and silently drops the rest
(most often where the voice changes, e.g. a quote read in another voice).
Each stretch is checked for that: voiced audio left after the last segment's
end is decoded again on its own, and a stretch whose text is far too short for
its voiced time is split at a pause near its middle and decoded in halves
(kept only if that yields more words). Segment end times are not always right:
a re-decoded piece that opens with words already heard is dropped. Both cost extra engine calls only when
they fire. On nine spoken answers (about 12 minutes, synthetic voices and real
speech, 55 stretches) they fired on 2 stretches with openai-whisper and 3 with
faster-whisper, all real skips, and narrowed the word-error gap to batch
transcription from 0.015 to 0.007 and from 0.026 to 0.018 respectively.

Stretches decoded during speech use the transcriber's full beam search (the
time is free then); the tail, the only decoding the person waits for, uses
``TAIL_BEAM_SIZE`` beams.

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
from audio.transcriber import (
    MIN_WORDS_PER_VOICED_S,
    Transcriber,
    compose_prompt,
    frame_rms,
    join_text,
    normalise_words,
    voiced_seconds,
)

TAIL_BEAM_SIZE = 2
"""Beams for the tail, the only decoding the person waits for. On the 64 s
benchmark answer (a 6.8 s tail) the transcript arrived 1.36 s after the stop
with 2 beams against 0.94 s greedy; over nine answers the words of the tails
had 66 errors with 2 beams against 76 greedy (5 beams: 67, and twice the
wait)."""
TAIL_BEAM_MAX_S = 10.0
"""A longer tail (the speaker left no pause for a while) is decoded greedily:
its decoding time grows with its words, and 2 beams cost about half as much
again (on a 13.9 s tail: 2.1 s to the transcript against 1.4 s greedy)."""

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
    voiced, frame_s = voiced_frames(samples, sample_rate)
    if voiced.size == 0:
        return []
    quiet = np.concatenate(([False], ~voiced, [False]))
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


MAX_REPAIR_DEPTH = 2
"""A repaired piece may itself be repaired once more; no deeper."""
SKIPPED_VOICED_S = 1.0
"""Voiced audio after the last segment's end that counts as skipped speech."""
TIMESTAMP_SLACK_S = 0.3
"""How far segment end times may lag behind the speech they cover."""
MAX_WORDS_PER_S = 5.0
"""Faster than this, a segment's end time cannot be right (it holds more words
than fit before it), so it says nothing about skipped speech."""
REPEAT_WORDS = 4
"""A re-decoded piece opening with this many words already heard repeats them."""
MIN_REPAIR_VOICED_S = 3.0
"""Pieces with less voiced audio are too short to judge by their word count."""
MIN_SPLIT_SIDE_S = 2.0
"""Neither half of a split may be shorter than this."""


def voiced_frames(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Which 30 ms frames carry speech (louder than the pause threshold), and the frame length."""
    levels = frame_rms(samples, sample_rate)
    if levels.size == 0:
        return np.zeros(0, dtype=bool), 0.03
    threshold = max(PAUSE_FLOOR_RMS, PAUSE_RELATIVE * float(np.percentile(levels, 95)))
    return levels >= threshold, len(samples) / sample_rate / levels.size


def skipped_from(
    samples: np.ndarray, segments: list[Segment], sample_rate: int = SAMPLE_RATE
) -> int | None:
    """Where speech the model left out begins (a sample index), or None.

    The model sometimes closes its last segment early and jumps to the end of
    the window, dropping the words after it. When at least
    ``SKIPPED_VOICED_S`` of voiced audio lies past the last segment's end
    (plus ``TIMESTAMP_SLACK_S``), the skipped audio starts at the first voiced
    frame after that end, less a short run-in. End times that imply more than
    ``MAX_WORDS_PER_S`` are wrong rather than early, and are not trusted."""
    if not segments:
        return None
    last_end = max(seg.end for seg in segments)
    if len(normalise_words(join_text(segments))) > MAX_WORDS_PER_S * last_end:
        return None
    voiced, frame_s = voiced_frames(samples, sample_rate)
    first = int((last_end + TIMESTAMP_SLACK_S) / frame_s)
    if first >= voiced.size or np.count_nonzero(voiced[first:]) * frame_s < SKIPPED_VOICED_S:
        return None
    after = np.flatnonzero(voiced[int(last_end / frame_s) :])
    onset_s = (int(last_end / frame_s) + int(after[0])) * frame_s
    start = max(last_end, onset_s - 0.15)
    return int(start * sample_rate) if start > 0.5 else None


def too_few_words(text: str, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bool:
    """True when ``text`` is far too short for the voiced audio it came from
    (fluent speech gives about 3 words per voiced second)."""
    voiced = voiced_seconds(samples, sample_rate)
    return (
        voiced >= MIN_REPAIR_VOICED_S
        and len(normalise_words(text)) < MIN_WORDS_PER_VOICED_S * voiced
    )


def split_point(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int | None:
    """A pause near the middle to split a badly decoded stretch at (a sample
    index), keeping ``MIN_SPLIT_SIDE_S`` on each side; None when too short."""
    total_s = len(samples) / sample_rate
    if total_s < 2 * MIN_SPLIT_SIDE_S:
        return None
    lo, hi = MIN_SPLIT_SIDE_S, total_s - MIN_SPLIT_SIDE_S
    middles = [(a + b) / 2 for a, b in find_pauses(samples, sample_rate, 0.15)]
    inside = [m for m in middles if lo <= m <= hi]
    if inside:
        return int(min(inside, key=lambda m: abs(m - total_s / 2)) * sample_rate)
    return quietest_point(samples, sample_rate, total_s / 3, 2 * total_s / 3)


def repeats(heard: str, again: str, n: int = REPEAT_WORDS) -> bool:
    """True when ``again`` opens with ``n`` words that already occur in a row
    in ``heard``: the re-decoded audio had been transcribed after all."""
    head, seen = normalise_words(again)[:n], normalise_words(heard)
    if len(head) < n:
        return False
    return any(seen[i : i + n] == head for i in range(len(seen) - n + 1))


def _shifted(segments: list[Segment], by_s: float) -> list[Segment]:
    return [Segment(round(s.start + by_s, 3), round(s.end + by_s, 3), s.text) for s in segments]


@dataclass(frozen=True)
class Stretch:
    """One stretch transcribed by the worker (for diagnostics and benchmarks)."""

    start_s: float
    end_s: float
    elapsed_s: float
    text: str
    final: bool = False
    """True for the tail transcribed after ``finish()``."""
    repairs: int = 0
    """How many re-decodings of skipped speech were kept in this stretch."""


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
        repair: bool | None = None,
        threaded: bool = True,
        tail_beam_size: int | None = TAIL_BEAM_SIZE,
        tail_beam_max_s: float = TAIL_BEAM_MAX_S,
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
        if repair is None:
            repair = bool(getattr(transcriber, "accepts_context", False))
        self.repair = repair
        """Decode again the speech the model skipped (:func:`skipped_from`,
        :func:`too_few_words`). By default on for engines that take
        ``context=`` (the re-decoded piece continues the text before it)."""
        self.tail_beam_size = tail_beam_size
        """Beams for the tail decoded after ``finish()`` (None: the
        transcriber's own); stretches decoded during speech use the
        transcriber's own number."""
        self.tail_beam_max_s = tail_beam_max_s
        """A tail longer than this is decoded greedily (a bounded wait)."""
        self._final_beam: int | None = None
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
        self._repairs = 0
        self._stretch_at_s = 0.0
        self._finished = False
        self._cancelled = threading.Event()
        self.threaded = threaded
        """Without a worker thread (``threaded=False``), ``feed()`` transcribes
        every stretch that is ready before it returns: a replay of saved audio
        in blocks then cuts exactly where a live run that keeps up would, and
        gives the same text every time (benchmarks, re-transcribing)."""
        self._worker = threading.Thread(
            target=self._run, name="incremental-transcriber", daemon=True
        )
        if threaded:
            self._worker.start()

    # -- called from the recorder thread -----------------------------------

    def feed(self, samples: np.ndarray) -> None:
        """Queue a block of 16 kHz mono float32 samples; returns at once."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        block = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not self.threaded:
            self._pending = np.concatenate([self._pending, block])
            self._advance(final=False)
            return
        self._queue.put(block.copy())

    # -- called by the owner ------------------------------------------------

    def finish(self, timeout: float | None = None) -> Transcript:
        """Transcribe what is left and return the whole transcript;
        ``elapsed_s`` is the time spent here (the wait the user sees)."""
        started = time.perf_counter()
        if not self.threaded:
            if not self._finished:
                self._finished = True
                self._advance(final=True)
            return self._result(time.perf_counter() - started)
        if not self._finished:
            self._finished = True
            self._queue.put(None)
        self._worker.join(timeout)
        if self._worker.is_alive():
            raise TimeoutError("transcription did not finish in time")
        if self._error is not None:
            raise self._error
        return self._result(time.perf_counter() - started)

    def _result(self, elapsed_s: float) -> Transcript:
        return Transcript(
            text=join_text(self._segments),
            segments=tuple(self._segments),
            duration_s=self._offset / self.sample_rate,
            engine=self._engine,
            model=self._model,
            elapsed_s=elapsed_s,
            rejected=tuple(self._rejected),
        )

    def cancel(self) -> None:
        """Stop the worker without transcribing the rest."""
        self._cancelled.set()
        self._finished = True
        self._queue.put(None)
        if self.threaded:
            self._worker.join()

    # -- worker thread ------------------------------------------------------

    def _run(self) -> None:
        try:
            done = False
            while not done and not self._cancelled.is_set():
                blocks, done = self._drain()
                if blocks:
                    self._pending = np.concatenate([self._pending, *blocks])
                if not done:
                    self._advance(final=False)
            if done and not self._cancelled.is_set():
                self._advance(final=True)
        except BaseException as exc:  # handed to finish()
            self._error = exc

    def _advance(self, final: bool) -> None:
        """Transcribe every stretch that is ready in the pending audio; with
        ``final``, the rest too."""
        while not self._cancelled.is_set():
            cut = self._choose_cut(self._pending)
            if cut is None:
                break
            self._transcribe(cut, final=False)
        if final and not self._cancelled.is_set() and len(self._pending):
            self._transcribe(len(self._pending), final=True)

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
        self._repairs = 0
        self._stretch_at_s = offset_s
        self._final_beam = None
        if final:
            long_tail = cut / rate > self.tail_beam_max_s
            self._final_beam = 1 if long_tail else self.tail_beam_size
            own = getattr(self.transcriber, "beam_size", None)
            if own is not None and self._final_beam is not None:
                self._final_beam = min(self._final_beam, own)  # never wider than chosen
        segments = self._decode_checked(stretch, join_text(self._segments), depth=0)
        elapsed = time.perf_counter() - started
        end_s = self._offset / rate
        for seg in segments:
            self._segments.append(
                Segment(
                    round(seg.start + offset_s, 3),
                    round(min(seg.end + offset_s, end_s), 3),
                    seg.text,
                )
            )
        self.stretches.append(
            Stretch(offset_s, end_s, elapsed, join_text(segments), final, self._repairs)
        )

    def _decode(self, samples: np.ndarray, context: str) -> Transcript:
        """One engine call on ``samples`` (relative timestamps)."""
        clip = AudioClip(samples, self.sample_rate)
        if getattr(self.transcriber, "accepts_context", False):
            result = self.transcriber.transcribe(  # type: ignore[call-arg]
                clip, self.hint, context=context, beam_size=self._final_beam
            )
        else:
            result = self.transcriber.transcribe(clip, compose_prompt(self.hint, context))
        self._rejected.extend(
            f"{r} (stretch at {self._stretch_at_s:.1f} s)" for r in result.rejected
        )
        self._engine = self._engine or result.engine
        self._model = self._model or result.model
        return result

    def _decode_checked(self, samples: np.ndarray, context: str, depth: int) -> list[Segment]:
        """Decode ``samples``; when the model visibly skipped speech, decode
        the skipped audio again on its own (at most ``MAX_REPAIR_DEPTH`` deep).
        Segment times are relative to ``samples``."""
        rate = self.sample_rate
        result = self._decode(samples, context)
        segments = list(result.segments)
        if not self.repair or depth >= MAX_REPAIR_DEPTH:
            return segments
        rest = skipped_from(samples, segments, rate)
        if rest is not None:
            more = self._decode_checked(samples[rest:], f"{context} {result.text}", depth + 1)
            if not repeats(result.text, join_text(more)):
                self._repairs += 1
                return segments + _shifted(more, rest / rate)
        if too_few_words(result.text, samples, rate):
            mid = split_point(samples, rate)
            if mid is None:
                return segments
            first = self._decode_checked(samples[:mid], context, depth + 1)
            second = self._decode_checked(samples[mid:], f"{context} {join_text(first)}", depth + 1)
            both = first + _shifted(second, mid / rate)
            if len(normalise_words(join_text(both))) > len(normalise_words(result.text)):
                self._repairs += 1
                return both
        return segments
