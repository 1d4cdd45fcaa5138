"""Speech to text, offline, with two engines behind one small interface.

``make_transcriber(engine, model, threads, cache_dir)`` returns a
:class:`Transcriber` that also has ``load(progress=None)`` (optional background
warm-up; otherwise the model loads on first use).

* ``WhisperTranscriber``: openai-whisper on the CPU, float32, one torch thread
  by default (on a busy 2-core machine more threads are several times slower and
  erratic), English, beam search (``BEAM_SIZE``) at temperature 0 with
  whisper's fallback. The 16 kHz samples
  are handed over as an array, so no ffmpeg is needed.
* ``FasterWhisperTranscriber``: faster-whisper (CTranslate2, int8) on the same
  bundled tiny.en weights; an optional extra.

The hint (the question's key terms) becomes whisper's initial prompt, which
helps it spell domain words. It is written as one glossary sentence ("Glossary:
a; b; c."): a bare comma list of terms invites the model to continue the list,
so an answer that opens with the question's own words came out as a list of
hint terms that were never said. Guards against hallucinated text: near-silent
input never reaches the model; segments the model itself marks as probably not
speech, known filler phrases over quiet audio, and segments that merely echo
the prompt are dropped and reported in ``Transcript.rejected``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from audio import energy
from audio.beam import checked_beam
from audio.clip import SAMPLE_RATE, AudioClip
from audio.energy import StretchOptions, plan_stretches, speech_level
from audio.errors import ModelUnavailable
from audio.results import Segment, Transcript
from audio.weights import BUNDLED_MODEL, Progress

ENGINES = ("openai-whisper", "faster-whisper")

QUIET_SEGMENT_RMS = 0.01
"""A segment whose loudest stretch stays under this is quiet (about -40 dBFS)."""
QUIET_RELATIVE = 0.15
"""... or under this fraction of the clip's speech level."""
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
BEAM_PATIENCE = 2.0
"""The search ends once ``patience x beams`` hypotheses have finished. With 1,
hypotheses that skip a few words finish first and end the search before the
complete ones: with a glossary prompt, an answer opening with the glossary's
own words ("Attention masks are masks for attention, and they're ...") lost
that clause under 5 beams; at 2 the clause is kept."""
PROMPT_CONTEXT_WORDS = 40
"""How much earlier text is carried into the prompt of the next stretch."""
LONG_CLIP_S = 28.0
"""Clips longer than this are cut at pauses (``LONG_CLIP_STRETCHES``): with a
prompt, whisper's own 30 s windowing tends to emit one segment per window and
silently skip speech inside it."""
LONG_CLIP_STRETCHES = StretchOptions(min_chunk_s=10.0, max_chunk_s=24.0)
TRUNCATION_MIN_VOICED_S = 2.0
"""A prompted pass over less voiced audio than this is never judged cut short."""
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Temperature 0 first, then whisper's fallback when the output looks degenerate."""
BEAM_SIZE = 5
"""Beams at temperature 0 (1 = greedy). Beam search makes fewer word errors
than greedy search and takes about half as long again; live transcription
spends it on the stretches decoded while the person is still talking, where
the time is free, and the tail the person waits for takes fewer
(``audio.incremental.TAIL_BEAM_SIZE``). ``tests/benchmarks/feedback_latency.py``
measures both. openai-whisper runs the search through
:mod:`audio.whisper_decoding` (one first pass for all beams)."""
SAMPLING_SEED = 0
"""The fallback samples at a temperature; openai-whisper's random generator is
seeded on every call, so the same audio always gives the same transcript
(re-scoring a saved answer is reproducible, and measurements compare like with
like). faster-whisper samples inside CTranslate2's own worker threads, which a
seed set from Python does not reach: where it falls back, its text can vary
from run to run."""

_SILENCE_PHRASES = (
    r"thank you( very much)?( for watching)?",
    r"thanks( for watching)?",
    r"(please )?subscribe.*",
    r"subtitles( by)?.*",
    r"captions?( by)?.*",
    r"you",
    r"bye",
    r"okay",
)
_SILENCE_RE = re.compile(r"^(?:" + "|".join(_SILENCE_PHRASES) + r")$")


class Transcriber(Protocol):
    """What the session engine and the live transcriber need from a speech
    recogniser; both engines below provide it, and so do the test fakes."""

    @property
    def beam_size(self) -> int:
        """Beams for every call that does not ask for another number (1: greedy)."""
        ...

    @property
    def skips_speech(self) -> bool:
        """True when the engine may close a segment early and silently drop the
        speech after it (whisper does): the live transcriber then decodes what
        looks skipped once more."""
        ...

    def transcribe(
        self, clip: AudioClip, hint: str = "", *, context: str = "", beam_size: int | None = None
    ) -> Transcript:
        """Transcribe ``clip``. ``hint`` holds the question's key terms,
        ``context`` the text of the answer heard before this clip (both prompt
        the model); ``beam_size`` overrides the transcriber's own for this call."""
        ...


@dataclass(frozen=True)
class RawSegment:
    """One segment as an engine produced it, before the hallucination guards."""

    start: float
    end: float
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


# ---------------------------------------------------------------------------
# The hallucination guards (pure functions, unit-tested)


def is_silent(clip: AudioClip) -> bool:
    return energy.is_silent(clip.samples, clip.sample_rate)


def normalise_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def is_prompt_echo(text: str, prompt: str) -> bool:
    """True when the segment is only a run of the prompt's own words (three or
    more in a row), i.e. the model read the prompt back instead of the audio."""
    words, prompt_words = normalise_words(text), normalise_words(prompt)
    if len(words) < 3 or len(words) > len(prompt_words):
        return False
    n = len(words)
    return any(prompt_words[i : i + n] == words for i in range(len(prompt_words) - n + 1))


def is_silence_phrase(text: str) -> bool:
    return bool(_SILENCE_RE.match(" ".join(normalise_words(text))))


def _word_count(raw: Iterable[RawSegment]) -> int:
    return sum(len(normalise_words(seg.text)) for seg in raw)


def filter_segments(
    raw: Iterable[RawSegment], samples: np.ndarray, prompt: str = "", sample_rate: int = SAMPLE_RATE
) -> tuple[list[Segment], list[str]]:
    """Split engine segments into kept ones and rejected texts (with the reason)."""
    clip_level = speech_level(samples, sample_rate)
    kept: list[Segment] = []
    rejected: list[str] = []
    for seg in raw:
        text = seg.text.strip()
        if not text:
            continue
        lo = max(0, int(seg.start * sample_rate))
        hi = min(len(samples), max(lo + 1, int(seg.end * sample_rate)))
        level = speech_level(samples[lo:hi], sample_rate)
        quiet = level < max(QUIET_SEGMENT_RMS, QUIET_RELATIVE * clip_level)
        reason = None
        if not normalise_words(text):
            reason = "no words"  # beam search over hum: " . . . ."
        elif seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB:
            reason = "no speech"
        elif quiet and is_silence_phrase(text):
            reason = "filler over silence"
        elif seg.no_speech_prob > NO_SPEECH_PROB and is_silence_phrase(text):
            # beam search can lift a stock hallucination's log-probability just
            # over LOW_LOGPROB (faster-whisper, 5 beams, mains hum: "You", -0.99)
            reason = "filler the model marks as no speech"
        elif prompt and is_prompt_echo(text, prompt):
            reason = "echo of the prompt"
        if reason:
            rejected.append(f"{text} [{reason}, {seg.start:.1f}-{seg.end:.1f} s]")
        else:
            kept.append(Segment(round(seg.start, 3), round(seg.end, 3), text))
    return kept, rejected


def join_text(segments: Iterable[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip())


GLOSSARY_LABEL = "Glossary:"


def glossary_prompt(hint: str) -> str:
    """The hint as whisper's prompt: ``"a, b, c"`` becomes ``"Glossary: a; b; c."``.

    A comma list in the prompt reads to the model like the start of the
    transcript, and it tends to carry on listing terms instead of hearing the
    audio; a labelled sentence still teaches the spellings. Idempotent, and an
    empty hint stays empty."""
    hint = hint.strip()
    if not hint or hint.startswith(GLOSSARY_LABEL):
        return hint
    terms = [t.strip() for t in re.split(r"[,;\n]+", hint) if t.strip()]
    body = "; ".join(terms).rstrip(".")
    return f"{GLOSSARY_LABEL} {body}." if body else ""


def compose_prompt(hint: str, context: str = "") -> str:
    """The prompt of one model call: the question's key terms, then the last
    words already transcribed (continuity across stretches)."""
    words = context.split()[-PROMPT_CONTEXT_WORDS:]
    return " ".join([hint.strip(), *words]).strip()


# ---------------------------------------------------------------------------
# Engines


class _LazyModel:
    """Shared lazy, thread-safe loading and the common transcribe flow."""

    engine_name = ""
    skips_speech = True
    """Whisper now and then ends a window early and drops the speech after it."""

    def __init__(self, model: str = BUNDLED_MODEL, threads: int = 1, beam_size: int = BEAM_SIZE):
        self.model_name = model
        self.threads = max(1, int(threads))
        self.beam_size = checked_beam(beam_size)
        """Beams for every call that does not ask for another number."""
        self._model: Any = None
        """The engine's own model object (its library has no type information)."""
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, progress: Progress | None = None) -> None:
        """Load the model now (e.g. in a background thread while the question is read)."""
        with self._load_lock:
            if self._model is None:
                self._model = self._load(progress)

    def transcribe(
        self, clip: AudioClip, hint: str = "", *, context: str = "", beam_size: int | None = None
    ) -> Transcript:
        """Transcribe ``clip``; ``hint`` holds the question's key terms,
        ``context`` the text of the answer so far (both go into the prompt;
        only the hint counts when rejecting echoes of the prompt).
        ``beam_size`` overrides the transcriber's own for this call."""
        started = time.perf_counter()
        beam = self.beam_size if beam_size is None else checked_beam(beam_size)
        samples = _as_model_input(clip)
        hint = glossary_prompt(hint)
        if is_silent(AudioClip(samples)):
            return self._result("", (), (), clip, started)
        self.load()
        segments: list[Segment] = []
        rejected: list[str] = []
        for lo, hi in _stretches(samples):
            piece = samples[lo:hi]
            if is_silent(AudioClip(piece)):
                continue
            prompt = compose_prompt(hint, " ".join([context, join_text(segments)]))
            raw = self._decode(piece, prompt, beam)
            kept, dropped = filter_segments(raw, piece, hint)
            offset = lo / SAMPLE_RATE
            segments.extend(
                Segment(round(seg.start + offset, 3), round(seg.end + offset, 3), seg.text)
                for seg in kept
            )
            rejected.extend(dropped)
        return self._result(join_text(segments), tuple(segments), tuple(rejected), clip, started)

    def _decode(self, piece: np.ndarray, prompt: str, beam: int) -> list[RawSegment]:
        """Run the engine; if a prompted pass looks cut short (far fewer words
        than the voiced time needs), also try without the prompt and keep
        whichever pass heard more."""
        with self._run_lock:
            raw = list(self._run(piece, prompt, beam))
        if prompt and energy.too_few_words(
            _word_count(raw), piece, min_voiced_s=TRUNCATION_MIN_VOICED_S
        ):
            with self._run_lock:
                plain = list(self._run(piece, "", beam))
            if _word_count(plain) > 1.25 * _word_count(raw):
                return plain
        return raw

    def _result(
        self,
        text: str,
        segments: tuple[Segment, ...],
        rejected: tuple[str, ...],
        clip: AudioClip,
        started: float,
    ) -> Transcript:
        return Transcript(
            text=text,
            segments=segments,
            duration_s=clip.duration_s,
            engine=self.engine_name,
            model=self.model_name,
            elapsed_s=time.perf_counter() - started,
            rejected=rejected,
        )

    def _load(self, progress: Progress | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(
        self, samples: np.ndarray, prompt: str, beam: int
    ) -> Iterable[RawSegment]:  # pragma: no cover
        raise NotImplementedError


class WhisperTranscriber(_LazyModel):
    """openai-whisper on the CPU (float32, beam search with temperature fallback)."""

    engine_name = "openai-whisper"

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        threads: int = 1,
        *,
        cache_dir: str | Path,
        download_root: str | Path | None = None,
        beam_size: int = BEAM_SIZE,
    ) -> None:
        super().__init__(model, threads, beam_size)
        self.cache_dir = cache_dir
        """The app's cache folder: the bundled model is converted into it."""
        self.download_root = download_root
        """Where whisper keeps the other models it downloads (None: its own default)."""

    def _load(self, progress: Progress | None) -> Any:
        import torch

        from audio.weights import load_whisper_model
        from audio.whisper_decoding import install

        torch.set_num_threads(self.threads)
        install()  # beam search without a beam-wide first pass (memory, speed)
        return load_whisper_model(self.model_name, self.cache_dir, progress, self.download_root)

    def _run(self, samples: np.ndarray, prompt: str, beam: int) -> Iterable[RawSegment]:
        import torch

        # Set on every call: the thread count is per calling thread with OpenMP.
        torch.set_num_threads(self.threads)
        torch.manual_seed(SAMPLING_SEED)
        with torch.inference_mode():
            result = self._model.transcribe(
                samples,
                language="en",
                task="transcribe",
                fp16=False,
                temperature=TEMPERATURES,
                beam_size=beam if beam > 1 else None,
                patience=BEAM_PATIENCE if beam > 1 else None,
                initial_prompt=prompt or None,
                carry_initial_prompt=bool(prompt),
                condition_on_previous_text=True,
                word_timestamps=False,
                verbose=None,
            )
        for seg in result.get("segments", []):
            yield RawSegment(
                float(seg["start"]),
                float(seg["end"]),
                str(seg["text"]),
                float(seg.get("no_speech_prob", 0.0)),
                float(seg.get("avg_logprob", 0.0)),
            )


class FasterWhisperTranscriber(_LazyModel):
    """faster-whisper (CTranslate2) on the bundled CTranslate2 weights, int8."""

    engine_name = "faster-whisper"

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        threads: int = 1,
        compute_type: str = "int8",
        beam_size: int = BEAM_SIZE,
    ) -> None:
        super().__init__(model, threads, beam_size)
        self.compute_type = compute_type

    def _load(self, progress: Progress | None) -> Any:
        from audio.weights import faster_whisper_model_dir, forbid_hub_downloads

        forbid_hub_downloads()
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelUnavailable(
                "the faster-whisper engine is not installed: pip install 'faster-whisper==1.2.1' "
                "(or choose the openai-whisper engine)"
            ) from None
        folder = faster_whisper_model_dir(self.model_name)
        if progress is not None:
            progress("loading", 0.1)
        try:
            model = WhisperModel(
                str(folder), device="cpu", compute_type=self.compute_type, cpu_threads=self.threads
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"faster-whisper could not load {folder.name}: {exc}") from None
        if progress is not None:
            progress("done", 1.0)
        return model

    def _run(self, samples: np.ndarray, prompt: str, beam: int) -> Iterable[RawSegment]:
        segments, _info = self._model.transcribe(
            samples,
            language="en",
            task="transcribe",
            beam_size=beam,
            patience=BEAM_PATIENCE,
            best_of=1,
            temperature=list(TEMPERATURES),
            initial_prompt=prompt or None,
            condition_on_previous_text=True,
            vad_filter=False,
            word_timestamps=False,
        )
        for seg in segments:
            yield RawSegment(
                float(seg.start),
                float(seg.end),
                str(seg.text),
                float(seg.no_speech_prob),
                float(seg.avg_logprob),
            )


def make_transcriber(
    engine: str = "openai-whisper",
    model: str = BUNDLED_MODEL,
    threads: int = 1,
    *,
    cache_dir: str | Path,
    download_root: str | Path | None = None,
    beam_size: int = BEAM_SIZE,
) -> WhisperTranscriber | FasterWhisperTranscriber:
    """The one place that picks an engine. Nothing is loaded until first use
    (or ``load()``). ``cache_dir`` is the app's cache folder."""
    if engine == "openai-whisper":
        return WhisperTranscriber(
            model, threads, cache_dir=cache_dir, download_root=download_root, beam_size=beam_size
        )
    if engine == "faster-whisper":
        return FasterWhisperTranscriber(model, threads, beam_size=beam_size)
    raise ModelUnavailable(f"unknown speech engine '{engine}'; choose one of: {', '.join(ENGINES)}")


def _stretches(samples: np.ndarray) -> list[tuple[int, int]]:
    if len(samples) <= LONG_CLIP_S * SAMPLE_RATE:
        return [(0, len(samples))]
    return plan_stretches(samples, SAMPLE_RATE, LONG_CLIP_STRETCHES)


def _as_model_input(clip: AudioClip) -> np.ndarray:
    """16 kHz mono float32, contiguous, as both engines expect."""
    from audio.clip import resample, to_mono

    samples = to_mono(np.asarray(clip.samples))
    if clip.sample_rate != SAMPLE_RATE:
        samples = resample(samples, clip.sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(samples, dtype=np.float32)
