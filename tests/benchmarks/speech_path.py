"""The bank self-check through the speech path: espeak-ng -> whisper -> matcher.

Run::

    python -m tests.benchmarks.speech_path [--quick] [--json]
                                           [--engine openai-whisper|faster-whisper] [--nohint]

Every hand-written answer case (``tests/data/answers_part*.toml``: correct,
partial and wrong answers to one question of the curated bank) is spoken by
espeak-ng at 160 words per minute, transcribed with the question's recogniser
hint, and graded; the written text is graded too, so the loss the speech path
causes is measured on the same answers. ``--quick`` takes a fixed subset of
about eight questions. Reported:

* mean score per class (correct / partial / wrong) for text and for speech, and
  the mean drop (text - speech) per class;
* the fraction of cases where mean(correct) > mean(partial) > mean(wrong);
* pairwise ordering accuracy over all answer pairs within a case;
* word error rate of the transcripts against the spoken texts; timings;
* in full mode (or with ``--nohint``), the speech figures without the
  recogniser hint;
* hint terms and key-point phrasings heard in wrong answers but never spoken
  (``hint_leaks``).

With ``--json`` the last line printed is one JSON object. The rendered WAVs are
cached by content hash under ``$INTERVIEWER_CACHE_DIR/speech-path`` (or a
folder in the system's temporary directory).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ANSWERS = REPO / "tests" / "data"
KINDS = ("correct", "partial", "wrong")
PAIRS = (("correct", "partial"), ("partial", "wrong"), ("correct", "wrong"))
ESPEAK_RATE = 160
"""espeak-ng speaking rate, words per minute."""
QUICK_EVERY = 3
"""``--quick`` keeps every third case (8 of 24)."""


class SpeechPathError(Exception):
    """The speech path cannot run here; the message says what to install."""


# ---------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """One question's hand-written answers, by class."""

    question: str
    answers: dict[str, tuple[str, ...]] = field(hash=False)

    def items(self) -> list[tuple[str, str]]:
        """``(kind, text)`` pairs in class order."""
        return [(kind, t) for kind in KINDS for t in self.answers.get(kind, ())]

    def sample(self, counts: dict[str, int], offset: int = 0) -> Case:
        """A smaller case: ``counts[kind]`` answers of each class, taken in
        turn from position ``offset`` (so different cases use different
        answers); classes not named in ``counts`` are kept whole."""
        picked: dict[str, tuple[str, ...]] = {}
        for kind in KINDS:
            texts = self.answers.get(kind, ())
            n = counts.get(kind, len(texts))
            if n >= len(texts):
                picked[kind] = texts
            else:
                picked[kind] = tuple(texts[(offset + i) % len(texts)] for i in range(n))
        return Case(self.question, picked)


def load_cases(folder: Path = ANSWERS, bank: Any = None) -> list[Case]:
    """All answer cases in file order; with ``bank``, only its questions."""
    cases: list[Case] = []
    for path in sorted(folder.glob("answers_part*.toml")):
        with path.open("rb") as f:
            for raw in tomllib.load(f).get("case", []):
                qid = raw.get("question", "")
                if bank is not None and qid not in bank:
                    continue
                cases.append(Case(qid, {k: tuple(raw.get(k, ())) for k in KINDS}))
    return cases


def quick_subset(cases: Sequence[Case], every: int = QUICK_EVERY) -> list[Case]:
    """A fixed spread of the cases: every ``every``-th one."""
    return list(cases[::every])


# ---------------------------------------------------------------------------
# Rendering and transcription


def cache_folder() -> Path:
    env = os.environ.get("INTERVIEWER_CACHE_DIR")
    base = Path(env).expanduser() if env else Path(tempfile.gettempdir()) / "interviewer-bench"
    folder = base / "speech-path"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def render(text: str, folder: Path | None = None, rate: int = ESPEAK_RATE) -> Path:
    """The WAV of ``text`` spoken by espeak-ng (cached by content hash)."""
    if not espeak_available():
        raise SpeechPathError("espeak-ng is not installed: apt-get install -y espeak-ng")
    folder = folder or cache_folder()
    key = hashlib.sha256(f"espeak-ng -s {rate}\n{text}".encode()).hexdigest()[:20]
    wav = folder / f"{key}.wav"
    if not wav.exists():
        tmp = wav.with_suffix(f".{os.getpid()}.tmp.wav")
        done = subprocess.run(
            ["espeak-ng", "-s", str(rate), "-w", str(tmp), text], capture_output=True, text=True
        )
        if done.returncode != 0 or not tmp.exists():
            raise SpeechPathError(
                f"espeak-ng failed ({done.returncode}): {done.stderr.strip()[:200]}"
            )
        tmp.replace(wav)
    return wav


def make_transcriber(
    engine: str = "openai-whisper", threads: int = 1, cache_dir: Path | None = None
):
    """The app's offline tiny.en transcriber, loaded now (converted weights
    under ``cache_dir``, else the application's cache folder)."""
    from audio.transcriber import make_transcriber as _make
    from interviewer import paths

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = paths.cache_dir() if cache_dir is None else cache_dir
    t = _make(engine, "tiny.en", threads=threads, cache_dir=folder)
    t.load()
    return t


# ---------------------------------------------------------------------------
# Word error rate


from tests.benchmarks.wer import wer, words  # noqa: E402,F401  (re-exported)

# ---------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class ClipResult:
    """One answer through both paths."""

    question: str
    kind: str
    text: str
    transcript: str
    text_score: float
    speech_score: float
    wer: float
    audio_s: float
    transcribe_s: float
    transcript_nohint: str | None = None
    speech_score_nohint: float | None = None


def _score(q: Any, answer: str) -> float:
    from questions import grade_question

    return grade_question(q, answer).score or 0.0


def run_case(
    case: Case,
    q: Any,
    transcriber: Any,
    *,
    nohint: bool = False,
    folder: Path | None = None,
) -> list[ClipResult]:
    """Speak, transcribe (with the question's hint) and grade every answer of
    ``case``; with ``nohint`` also transcribe without the hint."""
    from audio.clip import read_audio

    hint = q.recogniser_hint()
    out: list[ClipResult] = []
    for kind, text in case.items():
        clip = read_audio(render(text, folder))
        t0 = time.perf_counter()
        heard = transcriber.transcribe(clip, hint=hint).text
        took = time.perf_counter() - t0
        plain = transcriber.transcribe(clip, hint="").text if nohint else None
        out.append(
            ClipResult(
                question=case.question,
                kind=kind,
                text=text,
                transcript=heard,
                text_score=_score(q, text),
                speech_score=_score(q, heard),
                wer=wer(text, heard),
                audio_s=clip.duration_s,
                transcribe_s=took,
                transcript_nohint=plain,
                speech_score_nohint=_score(q, plain) if plain is not None else None,
            )
        )
    return out


def run(
    cases: Iterable[Case],
    bank: Any,
    transcriber: Any,
    *,
    nohint: bool = False,
    progress: Callable[[str], None] | None = None,
    folder: Path | None = None,
) -> list[ClipResult]:
    """``run_case`` over ``cases``; WAVs are cached in ``folder``."""
    results: list[ClipResult] = []
    folder = folder or cache_folder()
    for case in cases:
        got = run_case(case, bank.get(case.question), transcriber, nohint=nohint, folder=folder)
        results.extend(got)
        if progress:
            progress(f"{case.question}: {len(got)} answers")
    return results


# ---------------------------------------------------------------------------
# Figures


def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return statistics.fmean(xs) if xs else None


def by_case(results: Iterable[ClipResult]) -> dict[str, list[ClipResult]]:
    groups: dict[str, list[ClipResult]] = {}
    for r in results:
        groups.setdefault(r.question, []).append(r)
    return groups


def class_means(
    rs: Iterable[ClipResult], score: Callable[[ClipResult], float | None]
) -> dict[str, float]:
    """Mean score per class present in ``rs``."""
    rs = list(rs)
    out = {}
    for kind in KINDS:
        m = _mean(s for r in rs if r.kind == kind and (s := score(r)) is not None)
        if m is not None:
            out[kind] = m
    return out


def ordered(means: dict[str, float]) -> bool:
    """mean(correct) > mean(partial) > mean(wrong) over the classes present."""
    m = [means[k] for k in KINDS if k in means]
    return all(a > b for a, b in zip(m, m[1:], strict=False))


def pairwise(
    rs: Iterable[ClipResult], score: Callable[[ClipResult], float | None]
) -> dict[str, float]:
    """Fraction of answer pairs within a case ordered as their classes are;
    keys ``correct>partial``, ``partial>wrong``, ``correct>wrong`` and ``all``."""
    hits = {f"{hi}>{lo}": [0, 0] for hi, lo in PAIRS}
    for group in by_case(rs).values():
        for hi, lo in PAIRS:
            xs = [score(r) for r in group if r.kind == hi]
            ys = [score(r) for r in group if r.kind == lo]
            for x in xs:
                for y in ys:
                    if x is None or y is None:
                        continue
                    h = hits[f"{hi}>{lo}"]
                    h[0] += x > y
                    h[1] += 1
    out = {k: (a / n if n else float("nan")) for k, (a, n) in hits.items()}
    total = sum(n for _, n in hits.values())
    out["all"] = sum(a for a, _ in hits.values()) / total if total else float("nan")
    return out


def _text(r: ClipResult) -> float:
    return r.text_score


def _speech(r: ClipResult) -> float:
    return r.speech_score


def _speech_nohint(r: ClipResult) -> float | None:
    return r.speech_score_nohint


def summarise(results: Sequence[ClipResult], seconds: float = 0.0) -> dict[str, Any]:
    """The figures of the report (the ``--json`` object)."""
    groups = by_case(results)
    text_ok = [ordered(class_means(g, _text)) for g in groups.values()]
    speech_ok = [ordered(class_means(g, _speech)) for g in groups.values()]
    text_m, speech_m = class_means(results, _text), class_means(results, _speech)
    figures: dict[str, Any] = {
        "cases": len(groups),
        "answers": len(results),
        "text_order_ok": _mean(text_ok) or 0.0,
        "speech_order_ok": _mean(speech_ok) or 0.0,
        "text_mean": text_m,
        "speech_mean": speech_m,
    }
    for kind in KINDS:
        figures[f"drop_{kind}"] = (
            text_m[kind] - speech_m[kind] if kind in text_m and kind in speech_m else None
        )
    figures["correct_kept"] = _kept(results, "correct")
    figures["pairwise_text"] = pairwise(results, _text)
    figures["pairwise_speech"] = pairwise(results, _speech)
    figures["wer_mean"] = _mean(r.wer for r in results)
    if any(r.speech_score_nohint is not None for r in results):
        nohint_m = class_means(results, _speech_nohint)
        figures["speech_order_ok_nohint"] = _mean(
            ordered(class_means(g, _speech_nohint)) for g in groups.values()
        )
        figures["drop_correct_nohint"] = text_m.get("correct", 0.0) - nohint_m.get("correct", 0.0)
        figures["pairwise_speech_nohint"] = pairwise(results, _speech_nohint)
    figures["audio_s"] = sum(r.audio_s for r in results)
    figures["transcribe_s"] = sum(r.transcribe_s for r in results)
    figures["seconds"] = seconds
    return figures


def _kept(results: Sequence[ClipResult], kind: str) -> float | None:
    """Speech score over text score, averaged over the class (the fraction of
    the written answer's score that survives the speech path)."""
    text = _mean(r.text_score for r in results if r.kind == kind)
    speech = _mean(r.speech_score for r in results if r.kind == kind)
    if text is None or speech is None or text <= 0:
        return None
    return speech / text


def failing_cases(results: Sequence[ClipResult]) -> list[str]:
    """One line per case whose class means are out of order after speech."""
    lines = []
    for qid, g in by_case(results).items():
        sm, tm = class_means(g, _speech), class_means(g, _text)
        if not ordered(sm):
            lines.append(
                f"{qid}: speech "
                + ", ".join(f"{k}={v:.2f}" for k, v in sm.items())
                + " | text "
                + ", ".join(f"{k}={v:.2f}" for k, v in tm.items())
            )
    return lines


def hint_injections(
    results: Sequence[ClipResult], bank: Any, kinds: Sequence[str] = ("wrong",)
) -> list[str]:
    """Key-point phrasings and hint terms found in a transcript but not in the
    text that was spoken (case-insensitive, whole words)."""
    found = []
    for r in results:
        if r.kind not in kinds:
            continue
        q = bank.get(r.question)
        candidates = {p for kp in q.key_points for p in kp.phrasings} | set(q.terms)
        spoken, heard = _flat(r.text), _flat(r.transcript)
        for phrase in sorted(candidates):
            p = _flat(phrase)
            if p and _has(heard, p) and not _has(spoken, p, loose=True):
                found.append(f"{r.question} [{r.kind}]: '{phrase}' in transcript {r.transcript!r}")
    return found


def _flat(text: str) -> str:
    return " ".join(words(text.replace("-", " ")))


def _has(text: str, phrase: str, loose: bool = False) -> bool:
    """Whole-word match; ``loose`` also lets spaces come and go between
    characters ("k l" matches "kl", "finetuning" matches "fine tuning") and
    forgives an inflected last word ("attention masks" holds "attention mask")."""
    if loose:
        body = " ?".join(re.escape(c) for c in phrase.replace(" ", "")) + "(?:s|es|ed|d|ing)?"
    else:
        body = re.escape(phrase)
    return re.search(rf"(?<![a-z0-9]){body}(?![a-z0-9])", text) is not None


# ---------------------------------------------------------------------------
# Report


def format_table(results: Sequence[ClipResult]) -> str:
    lines = [
        f"{'question':34} {'class':8} {'text':>5} {'speech':>6} {'drop':>6} {'wer':>5} {'audio':>6}"
    ]
    for r in results:
        lines.append(
            f"{r.question[:34]:34} {r.kind:8} {r.text_score:5.2f} {r.speech_score:6.2f} "
            f"{r.text_score - r.speech_score:6.2f} {r.wer:5.2f} {r.audio_s:5.1f}s"
        )
    return "\n".join(lines)


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def format_summary(fig: dict[str, Any]) -> str:
    lines = [f"cases {fig['cases']}, answers {fig['answers']}"]
    for kind in KINDS:
        lines.append(
            f"  {kind:8} text {_f(fig['text_mean'].get(kind))}  speech {_f(fig['speech_mean'].get(kind))}"
            f"  drop {_f(fig[f'drop_{kind}'])}"
        )
    lines.append(f"correct answers keep {_f(fig['correct_kept'])} of their text score")
    lines.append(
        f"cases ordered c>p>w: text {_f(fig['text_order_ok'])}  speech {_f(fig['speech_order_ok'])}"
    )
    for name in ("pairwise_text", "pairwise_speech", "pairwise_speech_nohint"):
        if name in fig:
            lines.append(f"{name}: " + "  ".join(f"{k} {_f(v)}" for k, v in fig[name].items()))
    if "speech_order_ok_nohint" in fig:
        lines.append(
            f"without the hint: ordered {_f(fig['speech_order_ok_nohint'])}, "
            f"drop correct {_f(fig['drop_correct_nohint'])}"
        )
    lines.append(f"WER mean {_f(fig['wer_mean'])}")
    lines.append(
        f"audio {fig['audio_s']:.0f} s, transcription {fig['transcribe_s']:.0f} s, total {fig['seconds']:.0f} s"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.speech_path", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="a fixed subset of about eight questions")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    ap.add_argument(
        "--nohint",
        action="store_true",
        help="also transcribe without the recogniser hint (always on in full mode)",
    )
    ap.add_argument(
        "--engine", default="openai-whisper", choices=("openai-whisper", "faster-whisper")
    )
    args = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        import questions

        bank = questions.default_bank()
        cases = load_cases(bank=bank)
        if not cases:
            raise SpeechPathError("no answer cases for the curated bank under tests/data")
        if args.quick:
            cases = quick_subset(cases)
        if not espeak_available():
            raise SpeechPathError("espeak-ng is not installed: apt-get install -y espeak-ng")
        transcriber = make_transcriber(args.engine)
        results = run(
            cases,
            bank,
            transcriber,
            nohint=args.nohint or not args.quick,
            progress=lambda m: print(m, file=sys.stderr),
        )
    except Exception as exc:  # one clear line, never a traceback
        from audio.errors import AudioError

        if not isinstance(exc, (SpeechPathError, AudioError)):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fig = summarise(results, time.perf_counter() - started)
    fig["engine"] = args.engine
    leaks = hint_injections(results, bank)
    fig["hint_leaks"] = len(leaks)
    print(format_table(results))
    print()
    print(format_summary(fig))
    bad = failing_cases(results)
    if bad:
        print("\ncases out of order after speech:\n  " + "\n  ".join(bad))
    if leaks:
        print("\nhint terms heard in wrong answers but never spoken:\n  " + "\n  ".join(leaks))
    if args.json:
        print(json.dumps(_jsonable(fig), sort_keys=True))
    return 0


def _jsonable(fig: dict[str, Any]) -> dict[str, Any]:
    def fix(v: Any) -> Any:
        if isinstance(v, float):
            return None if v != v else round(v, 4)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    return {k: fix(v) for k, v in fig.items()}


if __name__ == "__main__":
    sys.exit(main())
