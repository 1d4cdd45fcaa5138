"""Guards on every question of the curated bank: true statements are never
charged with a misconception, and each misconception is still caught.

For each question, graded against its own rubric with the real grader:

* the reference, every key point's text and example sentences, and every
  misconception's correction fire none of the question's misconceptions;
* correct statements kept in ``tests/data/misconception_statements.toml``
  (textbook wordings a careless matcher charges: negations, contrasts such as
  "unlike an RNN, which reads one token at a time, ...") fire none either;
* each misconception fires on its own text and on a plain statement of it
  in other words, from the same file (``misconception_plain``; the file's
  ``misconception_paraphrases`` avoid all of the rubric's vocabulary and are
  a harder measure, reported by the key-point benchmark, not asserted).
"""

from __future__ import annotations

import tomllib

import pytest

from questions import Question, default_bank
from questions.matcher import grade_question
from tests.conftest import TEST_DATA

pytestmark = pytest.mark.slow

STATEMENTS = TEST_DATA / "misconception_statements.toml"


def _fired(q: Question, text: str) -> list[str]:
    known = {m.text for m in q.misconceptions}
    return [m.text for m in grade_question(q, text).misconceptions if m.text in known]


@pytest.fixture(scope="module")
def bank_questions() -> dict[str, Question]:
    return {q.id: q for q in default_bank().questions}


@pytest.fixture(scope="module")
def statements() -> dict[str, dict]:
    with STATEMENTS.open("rb") as f:
        return {e["id"]: e for e in tomllib.load(f)["question"]}


def _true_texts(q: Question) -> list[tuple[str, str]]:
    out = [("reference", q.reference)]
    for i, kp in enumerate(q.key_points, 1):
        out.append((f"key point {i}", kp.text))
        out.extend((f"key point {i} example", e) for e in kp.examples)
    out.extend(
        (f"correction {i}", m.correction) for i, m in enumerate(q.misconceptions, 1) if m.correction
    )
    return out


def test_true_statements_of_the_rubric_fire_no_misconception(bank_questions):
    wrong = []
    for q in bank_questions.values():
        if not q.misconceptions:
            continue
        for where, text in _true_texts(q):
            for m in _fired(q, text):
                wrong.append(f"{q.id}: {where} {text[:70]!r} fires {m[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_correct_statements_fire_no_misconception(bank_questions, statements):
    wrong = []
    for qid, entry in statements.items():
        q = bank_questions[qid]
        for text in entry.get("correct_statements", []):
            for m in _fired(q, text):
                wrong.append(f"{qid}: {text[:70]!r} fires {m[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_every_misconception_has_a_paraphrase(bank_questions, statements):
    for q in bank_questions.values():
        if q.misconceptions:
            assert q.id in statements, f"{q.id} has no entry in {STATEMENTS.name}"
            for key in ("misconception_plain", "misconception_paraphrases"):
                got = statements[q.id].get(key, [])
                assert len(got) == len(q.misconceptions), (q.id, key)


def test_each_misconception_fires_on_itself_and_a_paraphrase(bank_questions, statements):
    silent = []
    for q in bank_questions.values():
        paraphrases = statements.get(q.id, {}).get("misconception_plain", [])
        for mc, para in zip(q.misconceptions, paraphrases, strict=False):
            for label, text in (("its text", mc.text), ("a plain statement", para)):
                if mc.text not in _fired(q, text):
                    silent.append(f"{q.id}: {mc.text[:50]!r} not caught on {label} {text[:70]!r}")
    assert not silent, "\n".join(silent)
