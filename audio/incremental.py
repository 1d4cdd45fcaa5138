"""Incremental transcription: transcribe finished stretches while the person
is still speaking, so that when the answer ends only the tail remains.

    inc = IncrementalTranscriber(transcriber, hint="LoRA, PEFT")
    ...  inc.feed(block)        # from the recorder's callback; never blocks
    transcript = inc.finish()   # transcribes only the tail, joins everything

A worker thread collects the fed audio and, once at least ``min_chunk_s`` has
gathered, cuts it at the next pause (or, if the speaker never pauses, at the
quietest moment before ``max_chunk_s``; see :class:`audio.energy.StretchOptions`)
and transcribes that stretch. Each stretch is prompted with the hint plus the
text so far, for continuity across cuts; segment timestamps are shifted to
absolute times.

Whisper now and then stops early inside a stretch and silently drops the rest
(most often where the voice changes, e.g. a quote read in another voice).
For engines that do (``Transcriber.skips_speech``) each stretch is checked:
voiced audio left after the last segment's end is decoded again on its own,
and a stretch whose text is far too short for its voiced time is split at a
pause near its middle and decoded in halves (kept only if that yields more
words). Segment end times are not always right: a re-decoded piece that opens
with words already heard is dropped. Both cost extra engine calls only when
they fire; ``tests/benchmarks/feedback_latency.py`` measures what they gain.

Stretches decoded during speech use the transcriber's full beam search (the
time is free then); the tail, the only decoding the person waits for, uses
``TAIL_BEAM_SIZE`` beams.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from audio.clip import SAMPLE_RATE, AudioClip
from audio.energy import (
    DEFAULT_STRETCHES,
    StretchOptions,
    next_cut,
    split_point,
    too_few_words,
    voiced_frames,
)
from audio.results import Segment, Transcript
from audio.transcriber import Transcriber, join_text, normalise_words

TAIL_BEAM_SIZE = 2
"""Beams for the tail, the only decoding the person waits for: nearly the
accuracy of the full beam search at a fraction of its wait."""
TAIL_BEAM_MAX_S = 10.0
"""A longer tail (the speaker left no pause for a while) is decoded greedily:
its decoding time grows with its words, and beams multiply it."""

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
RUN_IN_S = 0.15
"""Skipped speech is decoded from this much before its first voiced frame."""


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
    start = max(last_end, onset_s - RUN_IN_S)
    return int(start * sample_rate) if start > 0.5 else None


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
        stretches: StretchOptions = DEFAULT_STRETCHES,
        sample_rate: int = SAMPLE_RATE,
        repair: bool | None = None,
        threaded: bool = True,
        tail_beam_size: int | None = TAIL_BEAM_SIZE,
        tail_beam_max_s: float = TAIL_BEAM_MAX_S,
    ) -> None:
        self.transcriber = transcriber
        self.hint = hint.strip()
        self.options = stretches
        """Where the answer is cut into stretches."""
        self.sample_rate = sample_rate
        self.repair = transcriber.skips_speech if repair is None else repair
        """Decode again the speech the model skipped (:func:`skipped_from`,
        :func:`audio.energy.too_few_words`); by default for engines that skip."""
        self.tail_beam_size = tail_beam_size
        """Beams for the tail decoded after ``finish()`` (None: the
        transcriber's own; never more than its own); stretches decoded during
        speech use the transcriber's own number."""
        self.tail_beam_max_s = tail_beam_max_s
        """A tail longer than this is decoded greedily (a bounded wait)."""
        self.stretches: list[Stretch] = []
        """Stretches transcribed so far, in order."""
        self.threaded = threaded
        """Without a worker thread (``threaded=False``), ``feed()`` transcribes
        every stretch that is ready before it returns: a replay of saved audio
        in blocks then cuts exactly where a live run that keeps up would, and
        gives the same text every time (benchmarks, re-transcribing)."""
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
            cut = next_cut(self._pending, self.sample_rate, self.options)
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

    def _tail_beam(self, seconds: float) -> int | None:
        """Beams for a tail of ``seconds`` (None: the transcriber's own)."""
        if seconds > self.tail_beam_max_s:
            return 1
        if self.tail_beam_size is None:
            return None
        return min(self.tail_beam_size, self.transcriber.beam_size)  # never wider than chosen

    def _transcribe(self, cut: int, final: bool) -> None:
        rate = self.sample_rate
        stretch, self._pending = self._pending[:cut], self._pending[cut:]
        offset_s = self._offset / rate
        self._offset += cut
        started = time.perf_counter()
        piece = _Piece(offset_s, self._tail_beam(cut / rate) if final else None)
        segments = self._decode_checked(piece, stretch, join_text(self._segments), depth=0)
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
            Stretch(offset_s, end_s, elapsed, join_text(segments), final, piece.repairs)
        )

    def _decode(self, piece: _Piece, samples: np.ndarray, context: str) -> Transcript:
        """One engine call on ``samples`` (relative timestamps)."""
        clip = AudioClip(samples, self.sample_rate)
        result = self.transcriber.transcribe(
            clip, self.hint, context=context, beam_size=piece.beam_size
        )
        self._rejected.extend(f"{r} (stretch at {piece.at_s:.1f} s)" for r in result.rejected)
        self._engine = self._engine or result.engine
        self._model = self._model or result.model
        return result

    def _decode_checked(
        self, piece: _Piece, samples: np.ndarray, context: str, depth: int
    ) -> list[Segment]:
        """Decode ``samples``; when the model visibly skipped speech, decode
        the skipped audio again on its own (at most ``MAX_REPAIR_DEPTH`` deep).
        Segment times are relative to ``samples``."""
        rate = self.sample_rate
        result = self._decode(piece, samples, context)
        segments = list(result.segments)
        if not self.repair or depth >= MAX_REPAIR_DEPTH:
            return segments
        rest = skipped_from(samples, segments, rate)
        if rest is not None:
            more = self._decode_checked(
                piece, samples[rest:], f"{context} {result.text}", depth + 1
            )
            if not repeats(result.text, join_text(more)):
                piece.repairs += 1
                return segments + _shifted(more, rest / rate)
        words = len(normalise_words(result.text))
        if too_few_words(words, samples, rate, min_voiced_s=MIN_REPAIR_VOICED_S):
            mid = split_point(samples, rate)
            if mid is None:
                return segments
            first = self._decode_checked(piece, samples[:mid], context, depth + 1)
            second = self._decode_checked(
                piece, samples[mid:], f"{context} {join_text(first)}", depth + 1
            )
            both = first + _shifted(second, mid / rate)
            if len(normalise_words(join_text(both))) > words:
                piece.repairs += 1
                return both
        return segments


@dataclass
class _Piece:
    """One stretch being decoded: what every engine call on it shares."""

    at_s: float
    """Where the stretch starts in the answer (for the rejection notes)."""
    beam_size: int | None
    """Beams for its engine calls (None: the transcriber's own)."""
    repairs: int = 0
    """Re-decodings of skipped speech kept so far."""
