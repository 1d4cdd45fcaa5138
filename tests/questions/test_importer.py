"""The Markdown importer and the TOML writer, on the seed article and a
synthetic article full of page clutter."""

from __future__ import annotations

import re

import pytest

from interviewer.cli import main
from questions.bank import ID_PATTERN, bank_from_text, load_bank, validate_file
from questions.importer import bank_to_toml, import_markdown, toml_multiline, toml_string
from tests.conftest import SHARED, TEST_DATA

ARTICLE = TEST_DATA / "banks" / "article.md"
SEED = SHARED / "seed" / "llm-interview-questions.txt"


def normalised(bank):
    """The bank without file-specific fields (path, line numbers)."""
    from dataclasses import replace

    return replace(
        bank, path="", questions=tuple(replace(q, line=0) for q in bank.questions), _index={}
    )


def check_rubric(bank) -> None:
    for q in bank.questions:
        assert ID_PATTERN.match(q.id), q.id
        assert 3 <= len(q.key_points) <= 7, (q.id, len(q.key_points))
        assert all(kp.text and kp.text.strip() == kp.text for kp in q.key_points)
        assert all(p.strip() for kp in q.key_points for p in kp.phrasings)
        assert q.topics
        assert "**" not in q.reference and "\n" not in q.reference
    assert len({q.id for q in bank.questions}) == len(bank)


# ---------------------------------------------------------------- synthetic article


def test_synthetic_article_skips_clutter():
    bank = import_markdown(ARTICLE.read_text(encoding="utf-8"), source_name="notes/article.md")
    assert bank.name == "article"
    assert bank.title == "Machine Learning Interview Prep"
    assert [q.seed for q in bank.questions] == [1, 2, 3]
    assert [q.prompt for q in bank.questions] == [
        "What is overfitting, and how can it be reduced?",
        "What does Low-Rank Adaptation (LoRA) change in a pretrained model?",
        'Why do "transformers" use softmax in attention \\ scores?',
    ]
    assert [q.line for q in bank.questions] == [12, 22, 37]
    check_rubric(bank)
    text = " ".join(q.reference for q in bank.questions)
    for clutter in (
        "Table of contents",
        "Quiz time",
        "never be imported",
        "Written by",
        "clickbait",
    ):
        assert clutter not in text


def test_bold_term_bullets_become_key_points():
    q = import_markdown(ARTICLE.read_text(encoding="utf-8")).questions[0]
    assert [kp.text.split(":")[0] for kp in q.key_points] == [
        "Regularization",
        "Early stopping",
        "Data Augmentation",
    ]
    assert q.key_points[1].text == (
        "Early stopping: Halting training when the validation loss stops improving "
        "prevents memorisation."
    )
    assert q.key_points[1].phrasings[0] == "early stopping"
    assert {"Regularization", "Early stopping", "Data Augmentation"} <= set(q.terms)
    assert q.reference.startswith("Overfitting happens when a model memorises noise")
    assert "Early stopping: Halting training" in q.reference
    assert q.reference.endswith("More data is the most reliable cure.")


def test_code_and_subheadings_are_dropped_and_broken_lines_joined():
    q = import_markdown(ARTICLE.read_text(encoding="utf-8")).questions[1]
    assert "W0" not in q.reference and "Example" not in q.reference
    assert "about 65 thousand parameters instead of 16 million." in q.reference
    assert "LoRA" in q.terms and "Low-Rank Adaptation" in q.terms
    assert q.id.startswith("lora") or "lora" in q.id.split("-")
    # An acronym already in the question would match any answer: not a phrasing.
    assert not any("LoRA" in kp.phrasings for kp in q.key_points)


def test_sequence_rule_needs_one_and_answers():
    text = (
        "## 2. Starts at two?\n\n**Answer:** Not the first question of a sequence at all.\n\n"
        "## 3. Three?\n\n**Answer:** Also not.\n"
    )
    assert len(import_markdown(text)) == 0
    text = (
        "## 1. First question here?\n\n**Answer:** The first answer has enough words in it.\n\n"
        "## 2. No answer paragraph follows this heading\n\nJust prose.\n\n"
        "## 2. The real second question?\n\n**Answer:** The second answer, also a sentence.\n"
    )
    bank = import_markdown(text)
    assert [(q.seed, q.prompt) for q in bank.questions] == [
        (1, "First question here?"),
        (2, "The real second question?"),
    ]
    assert bank.questions[0].reference == "The first answer has enough words in it."


def test_articles_without_answer_markers_use_numbered_headings():
    text = "# Notes\n\n### 1. What is a tensor?\n\nA multi-dimensional array of numbers.\n\n### 2. What is a GPU?\n\nA parallel processor.\n"
    bank = import_markdown(text)
    assert [q.prompt for q in bank.questions] == ["What is a tensor?", "What is a GPU?"]
    check_rubric(bank)


def test_importer_output_loads_and_validates(tmp_path):
    bank = import_markdown(ARTICLE.read_text(encoding="utf-8"), source_name="article.md")
    path = tmp_path / "out.toml"
    path.write_text(bank_to_toml(bank), encoding="utf-8")
    assert [p for p in validate_file(path) if not p.warning] == []
    assert normalised(load_bank(path)) == normalised(bank)


# ---------------------------------------------------------------- the seed article


@pytest.mark.skipif(not SEED.exists(), reason="seed article not available")
def test_seed_article_yields_exactly_49_questions(tmp_path):
    bank = import_markdown(SEED.read_text(encoding="utf-8"), source_name=SEED.name)
    assert len(bank) == 49
    assert [q.seed for q in bank.questions] == list(range(1, 50))
    by_seed = {q.seed: q for q in bank.questions}
    assert by_seed[1].prompt == "How can bias in prompt-based learning be mitigated?"
    assert by_seed[30].prompt == (
        "How does task-specific fine-tuning differ from zero-shot learning in LLMs?"
    )
    assert by_seed[49].prompt == (
        "What is the role of contextual embeddings in LLMs, and how do they differ from "
        "static embeddings?"
    )
    check_rubric(bank)
    # The last answer stops before the author box and comments.
    assert by_seed[49].reference.endswith("state-of-the-art performance in NLP tasks.")
    # Acronym <-> expansion phrasings, except for acronyms the question names.
    forgetting = by_seed[6]
    phrasings = {p.lower() for kp in forgetting.key_points for p in kp.phrasings}
    assert {"peft", "parameter-efficient fine-tuning", "ewc", "elastic weight consolidation"} <= (
        phrasings
    )
    peft = by_seed[4]
    assert "peft" not in {p.lower() for kp in peft.key_points for p in kp.phrasings}
    assert (
        peft.spoken
        == "How does Parameter-Efficient Fine-Tuning prevent catastrophic forgetting in LLMs?"
    )
    assert "RLHF" in by_seed[3].terms
    assert by_seed[1].key_points[0].text.startswith("Prompt Calibration:")
    assert "For more examples" not in by_seed[18].reference
    # Round trip through the TOML writer and the validator.
    path = tmp_path / "seed.toml"
    path.write_text(bank_to_toml(bank), encoding="utf-8")
    assert normalised(load_bank(path)) == normalised(bank)


@pytest.mark.skipif(not SEED.exists(), reason="seed article not available")
def test_cli_import_seed(tmp_path, capsys):
    out = tmp_path / "drafts" / "llm.toml"
    assert main(["bank", "import", str(SEED), "-o", str(out)]) == 0
    message = capsys.readouterr().out
    assert message.startswith(f"imported 49 questions from {SEED} into {out}")
    assert len(load_bank(out)) == 49
    assert not re.search(r"/work|/tmp|/home", out.read_text(encoding="utf-8").split("[bank]")[0])
    assert main(["bank", "import", str(SEED), "-o", str(out)]) == 2
    assert "already exists; add --force" in capsys.readouterr().err
    assert main(["bank", "import", str(SEED), "-o", str(out), "--force"]) == 0


# ---------------------------------------------------------------- CLI errors


def test_cli_import_errors_are_one_line(tmp_path, capsys):
    assert main(["bank", "import", str(tmp_path / "none.md"), "-o", str(tmp_path / "o.toml")]) == 2
    assert capsys.readouterr().err == f"interviewer: {tmp_path / 'none.md'}: no such file\n"
    empty = tmp_path / "empty.md"
    empty.write_text("# Just a title\n\nNo questions here.\n", encoding="utf-8")
    assert main(["bank", "import", str(empty), "-o", str(tmp_path / "o.toml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no questions found" in err
    assert not (tmp_path / "o.toml").exists()
    binary = tmp_path / "b.md"
    binary.write_bytes(b"\x00\x01\x02")
    assert main(["bank", "import", str(binary), "-o", str(tmp_path / "o.toml")]) == 2
    assert "binary file" in capsys.readouterr().err


# ---------------------------------------------------------------- TOML writer


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " and backslash \\ and \\" both',
        "tab\tand\r\nnewlines\n\nand a trailing backslash \\",
        'ends with quotes """',
        "unicode: naïve café — 漢字 🎤 \u2028",
        "control \x01\x1f\x7f chars",
    ],
)
def test_toml_strings_round_trip(value):
    import tomllib

    assert tomllib.loads(f"a = {toml_string(value)}")["a"] == value
    assert tomllib.loads(f"a = {toml_multiline(value, width=10)}")["a"] == value


def test_long_references_are_wrapped_multiline_strings():
    bank = bank_from_text((TEST_DATA / "banks" / "good.toml").read_bytes(), "good.toml")
    text = bank_to_toml(bank)
    assert 'reference = """\n' in text
    assert (
        max(
            len(line)
            for line in text.splitlines()
            if not line.lstrip().startswith(
                ("prompt", "spoken", "text", "phrasings", "terms", "correction")
            )
        )
        <= 90
    )
    assert normalised(bank_from_text(text)) == normalised(bank)
