"""A set of spoken answers for measuring word error rate with more than one sample.

The feedback-latency benchmark times one ~60 s answer of about 156 words. Its
word error rate is a single small sample: on that answer a difference of 0.02
is three words, and an inaudible change to the noise floor moves either
transcript by more than that. This module builds eight more answers (about
11 minutes, roughly 1,650 words) from the bank's own reference answers, so
the comparison of incremental and batch transcription can be made on enough
speech to mean something.

Each answer is one reference answer read sentence by sentence by espeak-ng,
with a different voice and rate per answer and pauses of 0.2-0.9 s between
sentences; every third answer has the real JFK recording in the middle, for a
change of voice mid-answer. The recogniser is given the question's own hint,
as in the app. The answers are the eight references with the fewest digits
and symbols (espeak-ng reads "O(n^2)" or "8-bit" in ways no reference text
could match). The WAV files are cached next to the benchmark answer.

Incremental transcription here runs without its worker thread
(``threaded=False``): the answer is fed in 100 ms blocks and every stretch is
transcribed as soon as it is ready, which is what a live run does when it
keeps up, minus the waiting.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOICES = (
    "en-us",
    "en-gb",
    "en-us+f3",
    "en-gb-x-rp",
    "en-us-nyc",
    "en-gb-scotland+m3",
    "en-029",
    "en-us+m4",
)
ANSWERS = 8
NOISE_RMS = 0.001


@dataclass(frozen=True)
class SpokenAnswer:
    name: str
    samples: np.ndarray
    reference: str
    hint: str


def _symbols(text: str) -> int:
    return len(re.findall(r"[=/+()\[\]^_]|\d", text))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def build(cache: Path, answers: int = ANSWERS) -> list[SpokenAnswer]:
    """The spoken answers (WAVs cached in ``cache``)."""
    import questions
    from audio.clip import AudioClip, read_audio, write_wav
    from tests.benchmarks.feedback_latency import JFK_TEXT, speak

    chosen = sorted(questions.default_bank().questions, key=lambda q: _symbols(q.reference))
    rng = np.random.default_rng(11)
    out: list[SpokenAnswer] = []
    for k, q in enumerate(chosen[:answers]):
        parts = _sentences(q.reference)
        if k % 3 == 1:
            parts.insert(len(parts) // 2, JFK_TEXT)
        voice, rate = VOICES[k % len(VOICES)], int(rng.integers(145, 180))
        pauses = rng.uniform(0.2, 0.9, len(parts))
        noise_seed = int(rng.integers(0, 2**31))
        key = hashlib.sha256(
            "|".join([*parts, voice, str(rate), repr(pauses.round(4).tolist())]).encode()
        ).hexdigest()[:12]
        wav = cache / f"set-{q.id}-{key}.wav"
        if not wav.is_file():
            samples = speak(parts, voice, rate, pauses)
            noise = np.random.default_rng(noise_seed).normal(0.0, NOISE_RMS, len(samples))
            wav.parent.mkdir(parents=True, exist_ok=True)
            write_wav(wav, AudioClip((samples + noise).astype(np.float32)))
        out.append(
            SpokenAnswer(q.id, read_audio(wav).samples, " ".join(parts), q.recogniser_hint())
        )
    return out


def measure(transcriber, answers: list[SpokenAnswer], log) -> dict:
    """Word error rate of incremental and of batch transcription over all
    answers (errors summed over the set, divided by its words)."""
    from audio.clip import AudioClip
    from audio.incremental import IncrementalTranscriber
    from tests.benchmarks.wer import wer, words

    total = errors_inc = errors_batch = errors_greedy = 0.0
    per: list[dict] = []
    for a in answers:
        inc = IncrementalTranscriber(transcriber, a.hint, threaded=False)
        for i in range(0, len(a.samples), 1600):
            inc.feed(a.samples[i : i + 1600])
        live = inc.finish().text
        batch = transcriber.transcribe(AudioClip(a.samples), a.hint).text
        greedy = transcriber.transcribe(AudioClip(a.samples), a.hint, beam_size=1).text
        n = len(words(a.reference))
        w_inc, w_batch = wer(a.reference, live), wer(a.reference, batch)
        w_greedy = wer(a.reference, greedy)
        total += n
        errors_inc += w_inc * n
        errors_batch += w_batch * n
        errors_greedy += w_greedy * n
        per.append(
            {
                "id": a.name,
                "words": n,
                "incremental": round(w_inc, 4),
                "batch": round(w_batch, 4),
                "batch_greedy": round(w_greedy, 4),
            }
        )
        log(
            f"  {a.name:28s} {len(a.samples) / 16000:5.1f} s {n:4d} words | "
            f"WER incremental {w_inc:.3f} | batch {w_batch:.3f} | batch greedy {w_greedy:.3f}"
        )
    return {
        "set_answers": len(answers),
        "set_words": int(total),
        "set_wer_incremental": round(errors_inc / total, 4) if total else None,
        "set_wer_batch": round(errors_batch / total, 4) if total else None,
        "set_wer_batch_greedy": round(errors_greedy / total, 4) if total else None,
        "set_per_answer": per,
    }
