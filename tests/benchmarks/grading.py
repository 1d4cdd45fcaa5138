"""Benchmark the rubric matcher against human grades.

Run::

    python -m tests.benchmarks.grading [--quick] [--json] [--data DIR]

It grades every answer of three short-answer corpora with
``questions.grade(question, reference, answer)`` (key points derived from the
reference) and compares with people:

* Mohler (0-5 grades): Pearson r;
* SciEntsBank 2-way (correct / incorrect): macro-F1, with the decision
  threshold chosen by cross-validation grouped by question (fit on the other
  folds' questions, applied to the held-out questions);
* SAF (0-1): Pearson r on answers of at least five words;
* speed: p50 milliseconds per answer (model loaded) and for a ~150-word answer.

A baseline (token-overlap F1 with question words removed) is computed in the
same run, so improvements are ratios measured on the same machine. With
``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

FOLDS = 5


@dataclass(frozen=True)
class Item:
    qid: str
    question: str
    reference: str
    answer: str
    gold: float


def _read(path: Path, gold: Callable[[dict], float]) -> list[Item]:
    items = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                items.append(Item(r["qid"], r["question"], r["reference"], r["answer"], gold(r)))
    return items


def load_corpora(data: Path) -> dict[str, list[Item]]:
    return {
        "mohler": _read(data / "mohler-dev.jsonl", lambda r: r["grade"] / r["grade_max"]),
        "seb": _read(
            data / "scientsbank-2way-train.jsonl", lambda r: 1.0 if r["label"] == "correct" else 0.0
        ),
        "saf": _read(data / "saf-train.jsonl", lambda r: float(r["score"])),
    }


def quick_subset(items: list[Item], every: int = 4) -> list[Item]:
    """Every ``every``-th question group (in order of first appearance)."""
    order: list[str] = []
    for it in items:
        if it.qid not in order:
            order.append(it.qid)
    keep = set(order[::every])
    return [it for it in items if it.qid in keep]


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 3:
        return float("nan")
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return 0.0
    return sxy / (sxx * syy) ** 0.5


def macro_f1(pred: Sequence[bool], gold: Sequence[bool]) -> float:
    f1s = []
    for cls in (True, False):
        tp = sum(p == cls and g == cls for p, g in zip(pred, gold, strict=True))
        fp = sum(p == cls and g != cls for p, g in zip(pred, gold, strict=True))
        fn = sum(p != cls and g == cls for p, g in zip(pred, gold, strict=True))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / 2


def grouped_cv_f1(qids: Sequence[str], scores: Sequence[float], gold: Sequence[bool]) -> float:
    """Macro-F1 with the threshold fitted on other folds' questions."""
    groups = sorted(set(qids))
    fold_of = {q: i % FOLDS for i, q in enumerate(groups)}
    pred: list[bool | None] = [None] * len(scores)
    for f in range(FOLDS):
        train = [i for i, q in enumerate(qids) if fold_of[q] != f]
        test = [i for i, q in enumerate(qids) if fold_of[q] == f]
        if not test:
            continue
        cands = sorted({round(scores[i], 4) for i in train})
        best_t, best_f = 0.5, -1.0
        for t in cands:
            f1 = macro_f1([scores[i] >= t for i in train], [gold[i] for i in train])
            if f1 > best_f:
                best_t, best_f = t, f1
        for i in test:
            pred[i] = scores[i] >= best_t
    return macro_f1([bool(p) for p in pred], list(gold))


def baseline(question: str, reference: str, answer: str) -> float:
    """Token-overlap F1 between answer and reference, question words removed."""
    from questions import normalize as nz

    q = {t.stem for t in nz.tokens(question)}
    ref = {t.stem for t in nz.tokens(reference) if not t.is_stop and t.stem not in q}
    ans = {t.stem for t in nz.tokens(answer) if not t.is_stop and t.stem not in q}
    common = len(ref & ans)
    if not ref or not ans or not common:
        return 0.0
    p, r = common / len(ans), common / len(ref)
    return 2 * p * r / (p + r)


def _grade_all(items: list[Item], fn: Callable[[str, str, str], float | None]) -> list[float]:
    out = []
    for it in items:
        s = fn(it.question, it.reference, it.answer)
        out.append(0.0 if s is None else float(s))
    return out


def evaluate(corpora: dict[str, list[Item]], fn: Callable[[str, str, str], float | None]) -> dict:
    res: dict[str, float] = {}
    m = corpora["mohler"]
    res["mohler_r"] = pearson(_grade_all(m, fn), [it.gold for it in m])
    s = corpora["seb"]
    res["seb_macro_f1"] = grouped_cv_f1(
        [it.qid for it in s], _grade_all(s, fn), [it.gold >= 0.5 for it in s]
    )
    saf = [it for it in corpora["saf"] if len(it.answer.split()) >= 5]
    res["saf_r"] = pearson(_grade_all(saf, fn), [it.gold for it in saf])
    return res


def _ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


LONG_ANSWER = (
    "So a transformer replaces recurrence with self attention. Every token is projected into "
    "a query, a key and a value, and the attention weights come from the dot product of the "
    "query with all the keys, scaled by the square root of the dimension and passed through a "
    "softmax. The output for each position is the weighted sum of the values. Because every "
    "position attends to every other position in one step, the model captures long range "
    "dependencies and the whole sequence is processed in parallel, which makes training much "
    "faster on GPUs than an RNN. Multi head attention runs several of these in parallel with "
    "different projections so that each head can focus on a different kind of relationship, "
    "like syntax or coreference. Since attention itself has no notion of order, positional "
    "encodings are added to the embeddings. Each block also has a feed forward network, "
    "residual connections and layer normalisation. The cost is quadratic in the sequence "
    "length, which is why long contexts are expensive and why people use tricks like sparse "
    "attention or a key value cache at inference time."
)


def timing(items: list[Item], grade: Callable[[str, str, str], object]) -> dict[str, float]:
    sample = items[:: max(1, len(items) // 200)][:200]
    per = []
    for it in sample:
        t0 = time.perf_counter()
        grade(it.question, it.reference, it.answer)
        per.append((time.perf_counter() - t0) * 1000)
    q = "How does self-attention work in a transformer, and why did it replace RNNs?"
    ref = (
        "Self-attention lets every token build its representation from all other tokens: "
        "queries are compared with keys by scaled dot products, a softmax turns the scores "
        "into weights and the output is the weighted sum of values. It captures long-range "
        "dependencies in one step and processes the sequence in parallel, unlike an RNN, "
        "so training is faster. Multiple heads learn different relations; positional "
        "encodings supply order; the cost is quadratic in sequence length."
    )
    answer = " ".join(LONG_ANSWER.split()[:150])
    grade(q, ref, answer)
    words = len(answer.split())
    return {
        "p50_ms": statistics.median(per),
        "p50_ms_150w": _ms(lambda: grade(q, ref, answer), 15),
        "words_150w": float(words),
    }


def main(argv: Sequence[str] | None = None) -> int:
    from tests.conftest import SHARED

    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks.grading", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="every 4th question group only")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "asag")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    args = ap.parse_args(argv)

    if not (args.data / "mohler-dev.jsonl").exists():
        print(f"no graded-answer data in {args.data}; nothing to benchmark (use --data DIR)")
        return 0

    import questions
    from questions.matcher import load

    corpora = load_corpora(args.data)
    if args.quick:
        corpora = {k: quick_subset(v) for k, v in corpora.items()}
    n = sum(len(v) for v in corpora.values())

    t0 = time.perf_counter()
    semantic_ok = load()
    load_s = time.perf_counter() - t0

    def ours(q: str, r: str, a: str) -> float | None:
        return questions.grade(q, r, a).score

    t0 = time.perf_counter()
    result = evaluate(corpora, ours)
    grade_s = time.perf_counter() - t0
    result.update(timing(corpora["mohler"], questions.grade))
    result.update({"n": n, "load_s": round(load_s, 2), "grade_s": round(grade_s, 1)})
    result["semantic"] = semantic_ok
    if not args.no_baseline:
        base = evaluate(corpora, baseline)
        for k, v in base.items():
            result[f"baseline_{k}"] = v
            result[f"ratio_{k}"] = v and result[k] / v

    print(f"graded {n} answers{' (quick subset)' if args.quick else ''} in {grade_s:.1f} s")
    rows = [("Mohler Pearson r", "mohler_r"), ("SciEntsBank 2-way macro-F1", "seb_macro_f1"),
            ("SAF Pearson r (>= 5 words)", "saf_r")]  # fmt: skip
    for label, key in rows:
        line = f"{label:30s} {result[key]:.3f}"
        if f"baseline_{key}" in result:
            line += f"   baseline {result['baseline_' + key]:.3f}  x{result['ratio_' + key]:.2f}"
        print(line)
    print(f"{'p50 ms per answer':30s} {result['p50_ms']:.1f}")
    print(f"{'p50 ms, 150-word answer':30s} {result['p50_ms_150w']:.1f}")
    if args.json:
        print(
            json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
