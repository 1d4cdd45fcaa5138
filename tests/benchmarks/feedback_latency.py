"""Feedback latency: how long after the speaker stops does the transcript arrive?

    python -m tests.benchmarks.feedback_latency [--quick] [--json]
                                                [--engine openai-whisper|faster-whisper|both]

A spoken answer of about 60 s (25 s with ``--quick``) is built from espeak-ng
renderings of interview-answer sentences with natural pauses, plus the real
JFK clip; it is cached as a WAV in the cache folder and its reference text is
known, so word error rate is measurable. Each run feeds the answer in 100 ms
blocks at real-time pace to an :class:`IncrementalTranscriber` and stops the
moment the speech ends (no trailing silence). Measured in the same run:

* ``incremental_s``: from that stop to the final transcript (tail only);
* ``batch_s``: one transcription of the whole answer, as without streaming,
  with the transcriber's own settings (beam search, ``audio.transcriber.BEAM_SIZE``);
* ``batch_greedy_s`` / ``wer_batch_greedy`` / ``ratio_greedy``: the same with
  greedy search, the fastest batch transcription there is. Live transcription
  decodes the stretches heard during speech with the full beam (the time is
  free then) and the tail with ``audio.incremental.TAIL_BEAM_SIZE`` beams, so
  both baselines are shown.

Medians over the runs are reported (3 runs, 1 with ``--quick``). By default
every run hears the same cached audio, so the word error rates of the runs are
identical: one sample, and a small one (~156 words). With ``--vary-noise`` run
k > 0 adds its own draw of an inaudible noise floor (the same level as the one
already in the answer) to the audio both transcriptions hear, so the medians
also average over how the model happens to fall on this answer; the WER of
every run is listed in ``wer_incremental_all`` / ``wer_batch_all``. With
``--json`` the last line printed is one JSON object. ``peak_rss_mb`` is the
peak resident memory of the process holding the speech model and the grader.
With ``--engine both`` each engine runs in its own process so their memory
figures stay separate.

The full mode also measures word error rate over eight more spoken answers
(about 11 minutes of speech, :mod:`tests.benchmarks.answer_set`), because one
156-word answer cannot resolve a difference of 0.02: ``set_wer_incremental``
and ``set_wer_batch`` pool the errors over the set. ``--no-set`` skips it
(``--quick`` always does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
JFK = REPO / "tests" / "data" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
HINT = "transformer, self-attention, LoRA, fine-tuning, quantization, RLHF, embeddings"
SENTENCES = (
    "A transformer replaces recurrence with self-attention, so every token can look at every other token in one step.",
    "The attention weights come from the dot product of queries and keys, scaled and passed through a softmax.",
    "Because attention ignores order, we add positional information to the embeddings.",
    "For fine-tuning on a small budget, I would freeze the base model and train low rank adapters with LoRA.",
    "That keeps the number of trainable parameters tiny, and the adapters can be merged back after training.",
    "To serve the model cheaply, quantization to eight or four bits cuts memory with a small loss in quality.",
    "Finally, reinforcement learning from human feedback aligns the model with what people actually prefer.",
    "In short, the architecture scales well, and these techniques make it practical to adapt and deploy.",
)
QUICK_SENTENCES = SENTENCES[:2] + SENTENCES[3:4]
PAUSES_S = (0.55, 0.7, 0.45, 0.8, 0.6, 0.5, 0.75, 0.65)
BLOCK_S = 0.1
NOISE_RMS = 0.001
"""A faint noise floor: real microphones never deliver digital silence."""


# ---------------------------------------------------------------------------
# The answer audio


def cache_folder() -> Path:
    env = os.environ.get("INTERVIEWER_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "benchmarks"
    from interviewer import paths

    return paths.cache_dir() / "benchmarks"


def build_answer(quick: bool) -> tuple[np.ndarray, str]:
    """The answer's 16 kHz samples and reference text (WAV cached)."""
    from audio.clip import AudioClip, read_audio, write_wav

    sentences = QUICK_SENTENCES if quick else SENTENCES
    # JFK goes in the middle, so the answer ends on a synthetic sentence.
    middle = len(sentences) // 2
    parts: list[str] = [*sentences[:middle], JFK_TEXT, *sentences[middle:]]
    reference = " ".join(parts)
    key = hashlib.sha256(("|".join(parts) + repr(PAUSES_S) + repr(NOISE_RMS)).encode()).hexdigest()[
        :12
    ]
    wav = cache_folder() / f"answer-{'quick' if quick else 'full'}-{key}.wav"
    if wav.is_file():
        return read_audio(wav).samples, reference
    rng = np.random.default_rng(7)
    pauses = [PAUSES_S[i % len(PAUSES_S)] for i in range(len(parts) - 1)]
    samples = speak(parts, "en-us", 160, pauses)
    samples = samples + rng.normal(0.0, NOISE_RMS, len(samples)).astype(np.float32)
    wav.parent.mkdir(parents=True, exist_ok=True)
    write_wav(wav, AudioClip(samples.astype(np.float32)))
    return read_audio(wav).samples, reference


def speak(parts: list[str], voice: str, rate: int, pauses_s) -> np.ndarray:
    """``parts`` read one by one by espeak-ng (``JFK_TEXT`` is the real
    recording), trimmed, with ``pauses_s[i]`` of silence after part i."""
    from audio.clip import SAMPLE_RATE, read_audio

    if shutil.which("espeak-ng") is None:
        raise SystemExit(
            "espeak-ng is needed to build the benchmark answers (apt-get install espeak-ng)"
        )
    pieces: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(parts):
            if text is JFK_TEXT:
                speech = read_audio(JFK).samples
            else:
                out = Path(tmp) / f"s{i}.wav"
                cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(out), text]
                subprocess.run(cmd, check=True)
                speech = read_audio(out).samples
            pieces.append(_trim(speech))
            if i < len(parts) - 1:
                pieces.append(np.zeros(int(pauses_s[i] * SAMPLE_RATE), np.float32))
    return np.concatenate(pieces)


def _trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop leading/trailing near-silence so the pauses are the ones we choose."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


# ---------------------------------------------------------------------------
# Word error rate


from tests.benchmarks.wer import wer  # noqa: E402

# ---------------------------------------------------------------------------
# Measuring


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def warm_grader() -> bool:
    try:
        from questions import matcher
    except ImportError:
        return False
    loader = getattr(matcher, "warm_up", None) or getattr(matcher, "load", None)
    if loader is None:
        return False
    try:
        return bool(loader())
    except Exception:
        return False


def run_incremental(
    transcriber, samples: np.ndarray, realtime: bool
) -> tuple[float, str, int, float]:
    from audio.clip import SAMPLE_RATE
    from audio.incremental import IncrementalTranscriber

    inc = IncrementalTranscriber(transcriber, HINT)
    block = int(BLOCK_S * SAMPLE_RATE)
    start = time.perf_counter()
    for n, i in enumerate(range(0, len(samples), block)):
        if realtime:
            delay = start + n * BLOCK_S - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        inc.feed(samples[i : i + block])
    if realtime:  # the last block ends one block after it began
        delay = start + len(samples) / SAMPLE_RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    stopped = time.perf_counter()
    transcript = inc.finish()
    waited = time.perf_counter() - stopped
    tail = inc.stretches[-1] if inc.stretches and inc.stretches[-1].final else None
    tail_s = (tail.end_s - tail.start_s) if tail else 0.0
    return waited, transcript.text, len(inc.stretches), tail_s


def run_batch(transcriber, samples: np.ndarray, beam_size: int | None = None) -> tuple[float, str]:
    """One transcription of the whole answer (``beam_size``: None for the
    transcriber's own, 1 for greedy search)."""
    from audio.clip import AudioClip

    started = time.perf_counter()
    transcript = transcriber.transcribe(AudioClip(samples), HINT, beam_size=beam_size)
    return time.perf_counter() - started, transcript.text


def noise_draw(samples: np.ndarray, run: int) -> np.ndarray:
    """The answer with run ``run``'s own faint noise floor added (run 0: as is)."""
    if run == 0:
        return samples
    rng = np.random.default_rng(1000 + run)
    return (samples + rng.normal(0.0, NOISE_RMS, len(samples))).astype(np.float32)


def measure(
    engine: str,
    quick: bool,
    runs: int,
    realtime: bool,
    log,
    vary_noise: bool = False,
    with_set: bool = False,
) -> dict:
    from audio.clip import SAMPLE_RATE, AudioClip
    from audio.transcriber import make_transcriber
    from interviewer import paths

    samples, reference = build_answer(quick)
    answer_s = len(samples) / SAMPLE_RATE
    transcriber = make_transcriber(engine, threads=1, cache_dir=paths.cache_dir())
    loaded = time.perf_counter()
    transcriber.load()
    load_s = time.perf_counter() - loaded
    transcriber.transcribe(AudioClip(samples[: 5 * SAMPLE_RATE]), HINT)  # warm-up
    grader = warm_grader()
    log(f"[{engine}] answer {answer_s:.1f} s, model load {load_s:.2f} s, grader loaded: {grader}")

    inc_times, batch_times, inc_wers, batch_wers, stretches, tails = [], [], [], [], [], []
    greedy_times, greedy_wers = [], []
    for run in range(runs):
        heard = noise_draw(samples, run) if vary_noise else samples
        inc_s, inc_text, n_stretches, tail_s = run_incremental(transcriber, heard, realtime)
        batch_s, batch_text = run_batch(transcriber, heard)
        greedy_s, greedy_text = run_batch(transcriber, heard, beam_size=1)
        inc_times.append(inc_s)
        batch_times.append(batch_s)
        greedy_times.append(greedy_s)
        inc_wers.append(wer(reference, inc_text))
        batch_wers.append(wer(reference, batch_text))
        greedy_wers.append(wer(reference, greedy_text))
        stretches.append(n_stretches)
        tails.append(round(tail_s, 2))
        log(
            f"[{engine}] run {run + 1}/{runs}: incremental {inc_s:.2f} s ({n_stretches} stretches, "
            f"tail {tail_s:.1f} s, "
            f"WER {inc_wers[-1]:.3f}), batch {batch_s:.2f} s (WER {batch_wers[-1]:.3f}), "
            f"batch greedy {greedy_s:.2f} s (WER {greedy_wers[-1]:.3f})"
        )
    incremental_s = statistics.median(inc_times)
    batch_s = statistics.median(batch_times)
    greedy_s = statistics.median(greedy_times)
    peak_mb = peak_rss_mb()  # before the answer set: the figure is for one session's answer
    spoken_set: dict = {}
    if with_set:
        from tests.benchmarks import answer_set

        log(f"[{engine}] word error rate over the answer set:")
        spoken_set = answer_set.measure(transcriber, answer_set.build(cache_folder()), log)
        log(
            f"[{engine}] set of {spoken_set['set_answers']} answers, {spoken_set['set_words']} words: "
            f"WER incremental {spoken_set['set_wer_incremental']:.4f} | "
            f"batch {spoken_set['set_wer_batch']:.4f} | "
            f"batch greedy {spoken_set['set_wer_batch_greedy']:.4f}"
        )
    return {
        "engine": engine,
        "answer_s": round(answer_s, 2),
        "incremental_s": round(incremental_s, 3),
        "batch_s": round(batch_s, 3),
        "ratio": round(incremental_s / batch_s, 3) if batch_s else None,
        "wer_incremental": round(statistics.median(inc_wers), 4),
        "wer_batch": round(statistics.median(batch_wers), 4),
        "beam_size": transcriber.beam_size,
        "batch_greedy_s": round(greedy_s, 3),
        "ratio_greedy": round(incremental_s / greedy_s, 3) if greedy_s else None,
        "wer_batch_greedy": round(statistics.median(greedy_wers), 4),
        "peak_rss_mb": round(peak_mb, 1),
        "runs": runs,
        "realtime": realtime,
        "wer_incremental_all": [round(x, 4) for x in inc_wers],
        "wer_batch_all": [round(x, 4) for x in batch_wers],
        "vary_noise": vary_noise,
        "incremental_all_s": [round(x, 3) for x in inc_times],
        "batch_all_s": [round(x, 3) for x in batch_times],
        "stretches": stretches,
        "tail_audio_s": tails,
        "grader_loaded": grader,
        "load_avg": round(os.getloadavg()[0], 2),
        **spoken_set,
    }


def in_child(engine: str, args: argparse.Namespace) -> dict:
    """Run one engine in a fresh process (separate peak-memory figures)."""
    cmd = [sys.executable, "-m", "tests.benchmarks.feedback_latency", "--engine", engine, "--json"]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--runs", str(args.runs)] if args.runs else []
    cmd += ["--fast-feed"] if args.fast_feed else []
    cmd += ["--vary-noise"] if args.vary_noise else []
    cmd += ["--no-set"] if args.no_set else []
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} benchmark failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Feedback latency of incremental vs batch transcription."
    )
    parser.add_argument("--quick", action="store_true", help="a 25 s answer and one run")
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object on the last line"
    )
    parser.add_argument(
        "--engine", choices=["openai-whisper", "faster-whisper", "both"], default="openai-whisper"
    )
    parser.add_argument(
        "--runs", type=int, default=0, help="repetitions (default 3, 1 with --quick)"
    )
    parser.add_argument(
        "--fast-feed",
        action="store_true",
        help="feed faster than real time (reported in the output)",
    )
    parser.add_argument(
        "--vary-noise",
        action="store_true",
        help="give every run after the first its own faint noise floor (WER over several draws)",
    )
    parser.add_argument(
        "--no-set",
        action="store_true",
        help="skip the word error rate over the eight-answer set (full mode only)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    runs = args.runs or (1 if args.quick else 3)

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    if args.engine == "both":
        results = {
            engine: in_child(engine, args) for engine in ("openai-whisper", "faster-whisper")
        }
        summary = dict(results["openai-whisper"])
        summary.update(results)
    else:
        summary = measure(
            args.engine,
            args.quick,
            runs,
            not args.fast_feed,
            log,
            args.vary_noise,
            with_set=not (args.quick or args.no_set),
        )

    if not args.json:
        for name, result in (
            [(args.engine, summary)] if args.engine != "both" else list(results.items())
        ):
            log(
                f"{name}: answer {result['answer_s']} s | incremental {result['incremental_s']} s | "
                f"batch {result['batch_s']} s | ratio {result['ratio']} | WER inc {result['wer_incremental']} "
                f"vs batch {result['wer_batch']} | batch greedy {result['batch_greedy_s']} s "
                f"(ratio {result['ratio_greedy']}, WER {result['wer_batch_greedy']}) | peak RSS {result['peak_rss_mb']} MB"
                + ("" if result["realtime"] else " | fed faster than real time")
            )
            if "set_words" in result:
                log(
                    f"{name}: answer set ({result['set_words']} words) WER inc "
                    f"{result['set_wer_incremental']} vs batch {result['set_wer_batch']} "
                    f"(greedy {result['set_wer_batch_greedy']})"
                )
    else:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
