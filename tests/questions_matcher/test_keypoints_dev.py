"""Key points on the labelled development answers, with the real grader.

* every covered or partial key point points at a clause of the answer: at
  least a few words, exactly the answer's text at its offsets, never a lone
  common word;
* the per-key-point verdicts agree with the labels well enough that a
  regression shows (the benchmark ``tests.benchmarks.keypoints`` reports the
  figures; these floors sit below them);
* complete answers score far above half answers, which score far above wrong
  ones.
"""

from __future__ import annotations

import statistics

import pytest

from questions import default_bank
from questions.matcher import MIN_EVIDENCE_WORDS
from tests.benchmarks.keypoints import DEV_SET, grade_one, load_set, summarise
from tests.conftest import TEST_DATA

pytestmark = pytest.mark.slow

SETS = [DEV_SET, TEST_DATA / "keypoints_dev_paraphrase.toml"]


@pytest.fixture(scope="module")
def bank_questions():
    return {q.id: q for q in default_bank().questions}


@pytest.fixture(scope="module", params=[p.name for p in SETS])
def graded(request, bank_questions):
    path = TEST_DATA / request.param
    items = load_set(path)
    return request.param, [grade_one(bank_questions[it.question], it) for it in items]


def test_evidence_is_a_clause_of_the_answer(graded):
    name, results = graded
    bad = []
    for g in results:
        text, qid = g.item.text, g.item.question
        for k in g.assessment.key_points:
            if k.status == "missed":
                continue
            ev = k.evidence
            if ev is None:
                bad.append(f"{name} {qid}: {k.text[:40]!r} {k.status} without evidence")
                continue
            if text[ev.start : ev.end] != ev.text:
                bad.append(f"{name} {qid}: evidence offsets do not match {ev.text!r}")
            if len(ev.text.split()) < MIN_EVIDENCE_WORDS:
                bad.append(f"{name} {qid}: {k.text[:40]!r} rests on {ev.text!r}")
    assert not bad, "\n".join(bad)


def test_verdicts_follow_the_labels(graded):
    name, results = graded
    fig = summarise(results)
    assert fig["kp_f1"] >= 0.75, (name, fig)
    assert fig["kp_precision"] >= 0.8, (name, fig)


def test_scores_separate_complete_half_and_wrong(graded):
    name, results = graded
    by = {k: [g.score for g in results if g.item.kind == k] for k in ("full", "half", "wrong")}
    full, half, wrong = (statistics.fmean(by[k]) for k in ("full", "half", "wrong"))
    assert full >= half + 25 and half >= wrong + 20, (name, full, half, wrong)
    assert wrong <= 15, (name, wrong)
