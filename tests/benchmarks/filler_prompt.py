"""Does a disfluent lead-in in whisper's prompt make it keep "um" and "uh"?

    python -m tests.benchmarks.filler_prompt [--quick] [--json]

Whisper learnt from transcripts that mostly leave disfluencies out; a prompt
that holds some is said to make it write them. Two prompts are compared, both
with greedy search on tiny.en (openai-whisper), as the documented figures
were measured:

* ``glossary``: the question's key terms as the glossary sentence the app
  gives today;
* ``glossary + lead-in``: the same sentence followed by ``LEAD_IN``.

Three figures for each:

* filler recall: the planted fillers of ``tests/audio_io/test_filler_recall.py``
  (espeak-ng at 160 wpm) that the transcript keeps, um/uh/er/hmm and word
  fillers apart (the glossary there is that of the attention question);
* word error rate over the hand-written answers of ``tests/data/answers_part*.toml``
  (espeak-ng, as in ``speech_path``), against the text that was spoken;
* jargon: of the question's key terms spoken in those answers, how many the
  transcript holds (the same loose whole-word match as ``speech_path``).

The lead-in is adopted only if um/uh recall reaches 0.6 while the word error
rate rises by no more than 0.01 and no fewer terms are recognised.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tests.benchmarks import speech_path as sp
from tests.benchmarks.wer import wer

LEAD_IN = "Um, so, uh, I think..."
"""The disfluent lead-in tried after the glossary."""
FILLER_QUESTION = "self-attention-significance"
VOCAL = {"um", "uh", "er", "erm", "hmm"}
ADOPT_RECALL = 0.6
ADOPT_WER_RISE = 0.01


def prompts(hint: str) -> dict[str, str]:
    from audio.transcriber import glossary_prompt

    glossary = glossary_prompt(hint)
    return {"glossary": glossary, "glossary + lead-in": f"{glossary} {LEAD_IN}".strip()}


def filler_recall(transcriber: Any, bank: Any) -> dict[str, dict[str, Any]]:
    from audio.clip import read_audio
    from audio.delivery import find_fillers
    from tests.audio_io.test_filler_recall import SENTENCES

    q = bank.get(FILLER_QUESTION)
    out: dict[str, dict[str, Any]] = {}
    for name, prompt in prompts(q.recogniser_hint()).items():
        planted, kept = Counter(), Counter()
        for sentence in SENTENCES:
            clip = read_audio(sp.render(sentence, rate=160))
            heard = transcriber.transcribe(clip, hint=prompt, beam_size=1).text
            want = Counter(find_fillers(sentence))
            planted += want
            kept += want & Counter(find_fillers(heard))
        vocal_planted = sum(v for k, v in planted.items() if k in VOCAL)
        vocal_kept = sum(v for k, v in kept.items() if k in VOCAL)
        out[name] = {
            "recall": round(sum(kept.values()) / max(1, sum(planted.values())), 3),
            "um_uh_kept": vocal_kept,
            "um_uh_planted": vocal_planted,
            "um_uh_recall": round(vocal_kept / max(1, vocal_planted), 3),
            "word_fillers_kept": sum(kept.values()) - vocal_kept,
            "word_fillers_planted": sum(planted.values()) - vocal_planted,
        }
    return out


def wer_and_jargon(transcriber: Any, bank: Any, quick: bool) -> dict[str, dict[str, Any]]:
    from audio.clip import read_audio

    cases = sp.load_cases(bank=bank)
    if quick:
        cases = sp.quick_subset(cases)
    totals: dict[str, dict[str, float]] = {}
    for case in cases:
        q = bank.get(case.question)
        for _kind, text in case.items():
            clip = read_audio(sp.render(text))
            spoken = sp._flat(text)
            said = [t for t in q.terms if sp._flat(t) and sp._has(spoken, sp._flat(t), loose=True)]
            for name, prompt in prompts(q.recogniser_hint()).items():
                heard = transcriber.transcribe(clip, hint=prompt, beam_size=1).text
                got = sp._flat(heard)
                t = totals.setdefault(name, {"errors": 0.0, "words": 0, "terms": 0, "heard": 0})
                n = len(spoken.split())
                t["errors"] += wer(text, heard) * n
                t["words"] += n
                t["terms"] += len(said)
                t["heard"] += sum(sp._has(got, sp._flat(term), loose=True) for term in said)
    return {
        name: {
            "wer": round(t["errors"] / max(1, t["words"]), 4),
            "words": int(t["words"]),
            "terms_heard": int(t["heard"]),
            "terms_spoken": int(t["terms"]),
        }
        for name, t in totals.items()
    }


def verdict(fig: dict[str, dict[str, Any]]) -> tuple[bool, str]:
    base, lead = fig["glossary"], fig["glossary + lead-in"]
    reasons = []
    if lead["um_uh_recall"] < ADOPT_RECALL:
        reasons.append(f"um/uh recall {lead['um_uh_recall']:.2f} < {ADOPT_RECALL}")
    if lead["wer"] - base["wer"] > ADOPT_WER_RISE:
        reasons.append(f"word error rate +{lead['wer'] - base['wer']:.3f} > {ADOPT_WER_RISE}")
    if lead["terms_heard"] < base["terms_heard"]:
        reasons.append(f"terms {lead['terms_heard']} < {base['terms_heard']}")
    return (not reasons, "adopt" if not reasons else "keep the glossary alone: " + "; ".join(reasons))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks.filler_prompt",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="word error rate and jargon on a subset")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = ap.parse_args(argv)
    if not sp.espeak_available():
        print("error: espeak-ng is not installed: apt-get install -y espeak-ng", file=sys.stderr)
        return 1
    import questions

    started = time.perf_counter()
    bank = questions.default_bank()
    transcriber = sp.make_transcriber()
    fig = filler_recall(transcriber, bank)
    for name, more in wer_and_jargon(transcriber, bank, args.quick).items():
        fig[name].update(more)
    adopt, why = verdict(fig)
    for name, f in fig.items():
        print(f"{name:20} fillers {f['recall']:.2f} (um/uh {f['um_uh_kept']}/{f['um_uh_planted']}, "
              f"words {f['word_fillers_kept']}/{f['word_fillers_planted']}) · "
              f"WER {f['wer']:.3f} over {f['words']} words · "
              f"terms {f['terms_heard']}/{f['terms_spoken']}")
    print(f"lead-in {LEAD_IN!r}: {why} ({time.perf_counter() - started:.0f} s)")
    if args.json:
        print(json.dumps({"figures": fig, "adopt": adopt, "quick": args.quick}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
