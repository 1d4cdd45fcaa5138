"""Key-point probes: the follow-up question asked when a point was missed.

* the shipped bank loads with no problem and every key point has a probe;
* the validator refuses a malformed probe, or one that says one of its
  point's phrasings, at the probe's own line;
* the importer's derived probes pass the same rule;
* no probe gives its point away: graded as the whole answer, a probe leaves
  its own key point uncovered and scores 0.25 or less (the real grader).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from questions.bank import bank_from_text, default_bank, validate_file
from questions.bank_check import (
    MAX_PROBE_WORDS,
    PROBE_WORDS,
    plain_words,
    probe_giveaway,
    probe_problem,
)
from questions.importer import bank_to_toml, import_markdown
from tests.conftest import REPO, SHARED, TEST_DATA

BANK_FILE = REPO / "questions" / "data" / "llm.toml"
ARTICLE = TEST_DATA / "banks" / "article.md"
SEED = SHARED / "seed" / "llm-interview-questions.txt"
GIVEAWAY_SCORE = 0.25

REFERENCE = " ".join(f"word{i}" for i in range(45))


def bank_text(probe_line: str) -> str:
    """A one-question bank whose first key point has ``probe_line`` on line 10."""
    return (
        '[bank]\nname = "t"\ntitle = "Test bank"\n'  # lines 1-3
        '\n[[question]]\nid = "kd"\nprompt = "How does distillation work?"\n'  # 4-7
        f'reference = "{REFERENCE}"\n'  # 8
        "\n  [[question.key_point]]\n"  # 9-10
        '  text = "The student is trained on the teacher\'s soft targets with a KL loss."\n'  # 11
        f"  {probe_line}\n"  # 12
        '  phrasings = ["soft targets", "KL divergence", "Kullback-Leibler"]\n'  # 13
        '\n  [[question.key_point]]\n  text = "Point two."\n'
        '\n  [[question.key_point]]\n  text = "Point three."\n'
    )


PROBE_LINE = 12


def problems_of(tmp_path: Path, probe_line: str):
    path = tmp_path / "bank.toml"
    path.write_text(bank_text(probe_line), encoding="utf-8")
    return str(path), validate_file(path)


# ---------------------------------------------------------------- the shipped bank


def test_shipped_bank_loads_cleanly_and_every_key_point_has_a_probe():
    assert validate_file(BANK_FILE) == []
    bank = default_bank()
    assert len(bank) == 49
    lo, hi = PROBE_WORDS
    for q in bank.questions:
        for i, kp in enumerate(q.key_points, 1):
            where = f"{q.id} key point {i}"
            assert kp.probe, f"{where} has no probe"
            assert kp.probe.endswith("?") and kp.probe.count("?") == 1, where
            assert lo <= len(kp.probe.split()) <= hi, where
            assert probe_giveaway(kp.probe, kp.phrasings) is None, where


def test_shipped_probes_are_plain_speech():
    """Read aloud by a speech engine: letters, digits and ordinary punctuation only."""
    allowed = set(" ,'?-")
    for q in default_bank().questions:
        for kp in q.key_points:
            odd = {c for c in kp.probe if not c.isalnum() and c not in allowed}
            assert not odd, (q.id, kp.probe, odd)


def test_probes_are_distinct_within_a_question():
    for q in default_bank().questions:
        probes = [kp.probe.lower() for kp in q.key_points]
        assert len(set(probes)) == len(probes), q.id


# ---------------------------------------------------------------- the rule


def test_giveaway_compares_whole_words_without_case_or_punctuation():
    assert probe_giveaway("What does the KL-Divergence measure?", ["kl divergence"]) == (
        "kl divergence"
    )
    assert probe_giveaway("Why feed it an N/A input?", ["n a input"]) == "n a input"
    assert probe_giveaway("What does the model's prior do?", ["models prior"]) == "models prior"
    assert probe_giveaway("How would you drag the slider?", ["rag"]) is None
    assert probe_giveaway("What about soft, hard targets?", ["soft targets"]) is None
    assert plain_words("Top-K, “nucleus” sampling!") == ["top", "k", "nucleus", "sampling"]


def test_probe_form_rules():
    assert probe_problem("How is the student's training objective defined?") is None
    assert probe_problem("Tell me about the objective.") is not None
    long = " ".join(["word"] * MAX_PROBE_WORDS) + " more?"
    assert probe_problem(long) is not None


def test_validator_refuses_a_probe_that_contains_a_phrasing(tmp_path):
    source, problems = problems_of(
        tmp_path, 'probe = "Did you know the student matches the Soft-Targets?"'
    )
    errors = [p for p in problems if not p.warning]
    assert len(errors) == 1
    (error,) = errors
    assert (error.file, error.line) == (source, PROBE_LINE)
    assert "gives the point away" in error.message and "'soft targets'" in error.message
    assert str(error).startswith(f"{source}:{PROBE_LINE}: ")
    with pytest.raises(ValueError):
        bank_from_text(bank_text('probe = "Why use a KL divergence loss here?"'))


@pytest.mark.parametrize(
    ("probe_line", "words"),
    [
        ("probe = 3", "must be a string"),
        ('probe = "   "', "is empty"),
        ('probe = "How is the student trained."', 'ending with "?"'),
        (f'probe = "{" ".join(["so"] * 31)}?"', "has 31 words"),
    ],
)
def test_validator_reports_a_malformed_probe_at_its_line(tmp_path, probe_line, words):
    source, problems = problems_of(tmp_path, probe_line)
    errors = [p for p in problems if not p.warning]
    assert [(p.file, p.line) for p in errors] == [(source, PROBE_LINE)]
    assert words in errors[0].message and "'probe'" in errors[0].message


def test_a_good_probe_loads_and_a_long_one_is_only_warned(tmp_path):
    good = "How is the student's training objective defined?"
    bank = bank_from_text(bank_text(f'probe = "{good}"'))
    assert bank.questions[0].key_points[0].probe == good
    assert bank.questions[0].key_points[1].probe == ""
    _, problems = problems_of(tmp_path, f'probe = "{" ".join(["so"] * 24)}?"')
    assert [(p.line, p.warning) for p in problems] == [(PROBE_LINE, True)]


def test_probe_survives_the_toml_writer():
    bank = bank_from_text(bank_text('probe = "How is the \\"student\\" trained?"'))
    again = bank_from_text(bank_to_toml(bank))
    assert again.questions[0].key_points[0].probe == 'How is the "student" trained?'
    assert again.questions[0].key_points == bank.questions[0].key_points


# ---------------------------------------------------------------- the importer


def _articles() -> list[Path]:
    return [p for p in (ARTICLE, SEED) if p.exists()]


@pytest.mark.parametrize("article", _articles(), ids=lambda p: p.name)
def test_importer_derives_a_probe_that_passes_the_rule(article, tmp_path):
    bank = import_markdown(article.read_text(encoding="utf-8"), source_name=article.name)
    assert bank.questions
    for q in bank.questions:
        for kp in q.key_points:
            assert kp.probe, (q.id, kp.text)
            assert probe_problem(kp.probe) is None, (q.id, kp.probe)
            assert probe_giveaway(kp.probe, kp.phrasings) is None, (q.id, kp.probe)
            assert PROBE_WORDS[0] <= len(kp.probe.split()) <= PROBE_WORDS[1], kp.probe
    out = tmp_path / "imported.toml"
    out.write_text(bank_to_toml(bank), encoding="utf-8")
    assert [p for p in validate_file(out) if not p.warning] == []
    loaded = bank_from_text(out.read_text(encoding="utf-8"))
    assert [kp.probe for q in loaded.questions for kp in q.key_points] == [
        kp.probe for q in bank.questions for kp in q.key_points
    ]


def test_importer_never_uses_a_phrasing_even_when_the_text_is_all_phrasings():
    article = (
        "# Notes\n\n## 1. What is LoRA?\n\n**Answer:**\n\n"
        "- **LoRA:** Low-Rank Adaptation (LoRA).\n"
        "- **Adapters:** small adapters.\n"
        "- **Rank:** low rank.\n"
    )
    bank = import_markdown(article)
    for kp in bank.questions[0].key_points:
        assert kp.probe and probe_giveaway(kp.probe, kp.phrasings) is None, kp


# ---------------------------------------------------------------- the grader


@pytest.mark.slow
def test_no_probe_gives_its_point_away():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import questions

    failures: list[str] = []
    for q in default_bank().questions:
        for i, kp in enumerate(q.key_points):
            result = questions.grade_question(q, kp.probe)
            own = result.key_points[i]
            assert own.text == kp.text
            score = result.score or 0.0
            if own.status == "covered" or score > GIVEAWAY_SCORE:
                failures.append(
                    f"{q.id} key point {i + 1}: {own.status}, score {score:.2f}: {kp.probe}"
                )
    assert not failures, "\n".join(failures)
