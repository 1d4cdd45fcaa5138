"""The bank self-check through the speech path: espeak-ng -> whisper tiny.en -> matcher.

The hand-written answers (``tests/data/answers_part*.toml``) are spoken by
espeak-ng, transcribed by the app's real offline transcriber with each
question's recogniser hint, and graded by the real matcher. The orderings the
text-level self-check demands must survive recognition errors.

To keep the run short, it takes 10 of the cases that ``python -m
tests.benchmarks.speech_path --quick`` leaves out, with one correct, one
partial and one wrong answer each (picked in turn, so different cases use
different answers); the benchmark's full mode covers every answer. Ten cases
still let two of them fall out of order before ``ORDERED_CASES`` fails.

The pure helpers of the benchmark are unit-tested first, on fakes.
"""

from __future__ import annotations

import pytest

from tests.benchmarks import speech_path as sp
from tests.conftest import needs_espeak

SAMPLE = {"correct": 1, "partial": 1, "wrong": 1}
MIN_CASES = 10
ORDERED_CASES = 0.8
CORRECT_KEPT = 0.8
CORRECT_VS_WRONG = 0.9
KNOWN_HINT_LEAKS: set[tuple[str, str]] = set()
"""Known defects, tolerated here but printed, so any new leak still fails.
Empty since the hint is given to whisper as a glossary sentence rather than a
bare comma list (the comma list made "Attention masks are masks for attention"
come out as "Mask, softmax, forward attention")."""


# ---------------------------------------------------------------------------
# The benchmark's logic, on hand-made results


def _r(
    qid: str, kind: str, text: float, speech: float, heard: str = "", said: str = ""
) -> sp.ClipResult:
    return sp.ClipResult(qid, kind, said, heard, text, speech, 0.0, 1.0, 0.1)


def test_wer_counts_word_edits() -> None:
    assert sp.wer("ask not what your country", "ask not what your country") == 0.0
    assert sp.wer("ask not what your country", "ask what you country") == pytest.approx(2 / 5)
    assert sp.wer("a b", "") == 1.0


def test_order_and_pairwise_figures() -> None:
    rs = [
        _r("a", "correct", 0.9, 0.8),
        _r("a", "partial", 0.5, 0.6),
        _r("a", "wrong", 0.1, 0.7),
        _r("b", "correct", 0.9, 0.9),
        _r("b", "wrong", 0.2, 0.1),
    ]
    fig = sp.summarise(rs)
    assert fig["cases"] == 2
    assert fig["text_order_ok"] == 1.0
    assert fig["speech_order_ok"] == 0.5  # case a: partial 0.6 < wrong 0.7
    assert fig["pairwise_speech"]["correct>wrong"] == 1.0
    assert fig["pairwise_speech"]["partial>wrong"] == 0.0
    assert fig["drop_correct"] == pytest.approx(0.05)
    assert fig["correct_kept"] == pytest.approx(0.85 / 0.9)
    assert sp.failing_cases(rs)[0].startswith("a:")


def test_sample_rotates_through_the_answers() -> None:
    case = sp.Case(
        "q", {"correct": ("c0", "c1", "c2"), "partial": ("p0",), "wrong": ("w0", "w1", "w2")}
    )
    counts = {"correct": 1, "partial": 1, "wrong": 2}
    assert case.sample(counts, offset=1).answers == {
        "correct": ("c1",),
        "partial": ("p0",),
        "wrong": ("w1", "w2"),
    }
    assert case.sample(counts, offset=2).answers["wrong"] == ("w2", "w0")
    assert case.sample(SAMPLE, offset=2).answers["wrong"] == ("w2",)


def test_hint_injection_is_detected_and_spacing_is_forgiven() -> None:
    from questions import Bank, KeyPoint, Question

    q = Question(
        "kl",
        "Why a KL penalty?",
        "A KL penalty keeps the policy near the reference model.",
        (KeyPoint("keeps the policy close to the reference", 1.0, ("reference model",)),),
        terms=("KL", "RLHF"),
    )
    bank = Bank("b", "b", (q,))
    injected = _r(
        "kl", "wrong", 0, 0, heard="RLHF hacks the reward model.", said="R L H F hacks the reward."
    )
    assert sp.hint_injections([injected], bank) == []  # "R L H F" was spoken
    plural = _r("kl", "wrong", 0, 0, heard="A reference model.", said="Two reference models.")
    assert sp.hint_injections([plural], bank) == []  # an inflected form was spoken
    leaked = _r(
        "kl", "wrong", 0, 0, heard="The KL term uses a reference model.", said="The term is random."
    )
    found = sp.hint_injections([leaked], bank)
    assert len(found) == 2 and "'KL'" in found[0] and "'reference model'" in found[1]


# ---------------------------------------------------------------------------
# The real speech path


@pytest.fixture(scope="module")
def bank():
    import questions

    return questions.default_bank()


@pytest.fixture(scope="module")
def run(bank, transcriber, model_cache_dir):
    """Speak, transcribe and grade the sampled cases once for the module."""
    needs_espeak()
    cases = [c for i, c in enumerate(sp.load_cases(bank=bank)) if i % sp.QUICK_EVERY != 0][
        :MIN_CASES
    ]
    assert len(cases) >= MIN_CASES, f"only {len(cases)} answer cases outside the quick subset"
    sampled = [c.sample(SAMPLE, offset=i) for i, c in enumerate(cases)]
    folder = model_cache_dir / "speech-path"
    folder.mkdir(parents=True, exist_ok=True)
    import time

    started = time.perf_counter()
    results = sp.run(sampled, bank, transcriber, folder=folder)
    return results, sp.summarise(results, time.perf_counter() - started)


@pytest.mark.e2e
@pytest.mark.slow
def test_class_order_survives_speech(run, capsys) -> None:
    results, fig = run
    with capsys.disabled():  # the figures show in the output even when all passes
        print("\n" + sp.format_table(results) + "\n\n" + sp.format_summary(fig))
        bad = sp.failing_cases(results)
        if bad:
            print("cases out of order after speech:\n  " + "\n  ".join(bad))
    assert fig["cases"] >= MIN_CASES
    bad = sp.failing_cases(results)
    assert fig["speech_order_ok"] >= ORDERED_CASES, (
        f"only {fig['speech_order_ok']:.2f} of cases keep mean(correct) > mean(partial) > mean(wrong) "
        "after speech:\n" + "\n".join(bad)
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_correct_answers_keep_their_score(run) -> None:
    results, fig = run
    worst = sorted(
        (r for r in results if r.kind == "correct"), key=lambda r: r.speech_score - r.text_score
    )[:3]
    assert fig["correct_kept"] >= CORRECT_KEPT, (
        f"correct answers keep {fig['correct_kept']:.2f} of their text score (drop {fig['drop_correct']:.3f}); "
        "worst: "
        + "; ".join(
            f"{r.question} {r.text_score:.2f}->{r.speech_score:.2f}: {r.transcript!r}"
            for r in worst
        )
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_correct_beats_wrong_after_speech(run) -> None:
    results, fig = run
    acc = fig["pairwise_speech"]["correct>wrong"]
    assert acc >= CORRECT_VS_WRONG, f"correct-vs-wrong pairwise accuracy after speech is {acc:.2f}"


@pytest.mark.e2e
@pytest.mark.slow
def test_hint_injects_no_key_terms(run, bank) -> None:
    results, _ = run
    leaks = sp.hint_injections(results, bank, kinds=("wrong",))
    known = [
        x
        for x in leaks
        if any(x.startswith(f"{qid} ") and f"'{term}'" in x for qid, term in KNOWN_HINT_LEAKS)
    ]
    if known:
        print("known hint leaks (see KNOWN_HINT_LEAKS):\n" + "\n".join(known))
    new = [x for x in leaks if x not in known]
    assert not new, "terms heard in wrong answers that were never spoken:\n" + "\n".join(new)
