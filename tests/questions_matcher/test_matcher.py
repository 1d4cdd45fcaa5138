"""Golden tests of specific matcher behaviours (real embedding model unless noted)."""

from __future__ import annotations

import pytest

from questions import Assessment, KeyPoint, Misconception, Question
from questions import normalize as nz
from questions.matcher import grade, grade_question

Q_BPE = "What is byte pair encoding?"
REF_BPE = (
    "Byte pair encoding is a subword tokenization method. It starts from single bytes and "
    "repeatedly merges the most frequent adjacent pair into a new token until the vocabulary "
    "reaches a chosen size."
)
KP_BPE = (
    KeyPoint("It is a subword tokenization method.", 1.0, ("subword tokenizer",)),
    KeyPoint(
        "It repeatedly merges the most frequent adjacent pair.", 2.0, ("merges frequent pairs",)
    ),
    KeyPoint("Merging stops at a chosen vocabulary size.", 1.0),
)

Q_VS = "Do you need a vector store for every LLM application?"
REF_VS = (
    "No. A vector store is needed when the model must retrieve outside documents by meaning, "
    "as in retrieval augmented generation. Summarising or translating text in the prompt "
    "needs no retrieval."
)


def _kp(a: Assessment, prefix: str):
    return next(k for k in a.key_points if k.text.startswith(prefix))


# --- normalisation (pure) ---


def test_number_words_become_digits() -> None:
    assert [t.norm for t in nz.tokens("two heads and twenty five layers")] == [
        "2", "heads", "and", "25", "layers",
    ]  # fmt: skip
    assert [t.norm for t in nz.tokens("three hundred and twelve")] == ["312"]


def test_fillers_and_repetitions_are_dropped() -> None:
    toks = nz.tokens("Um, so, like, the the model, you know, uh, learns learns weights")
    assert [t.norm for t in toks] == ["so", "the", "model", "learns", "weights"]


def test_like_as_a_verb_or_preposition_is_kept() -> None:
    assert "like" in [t.norm for t in nz.tokens("it looks like a tree")]
    assert "like" in [t.norm for t in nz.tokens("I like attention")]


def test_offsets_point_into_the_original_text() -> None:
    text = "Um, the  Transformer's heads!"
    for t in nz.tokens(text):
        assert text[t.start : t.end].lower().replace("'s", "") == t.norm


def test_sound_alikes_and_misspellings_are_similar() -> None:
    assert nz.word_similarity("bite", "byte") >= 0.8
    assert nz.word_similarity("laura", "lora") >= 0.8
    assert nz.word_similarity("tokenizaton", "tokenization") >= 0.8
    assert nz.word_similarity("encodings", "encoding") >= 0.9
    assert nz.word_similarity("attention", "recurrence") == 0.0
    assert nz.word_similarity("2", "3") == 0.0


def test_negation_scope_stops_at_a_clause_break() -> None:
    toks = nz.tokens("you do not need a vector store, but retrieval helps")
    neg = dict(zip([t.norm for t in toks], nz.negated_positions(toks), strict=True))
    assert neg["store"] and neg["need"]
    assert not neg["retrieval"]


# --- grading through the full matcher ---


def test_no_speech_gives_no_score() -> None:
    for answer in ("", "   ", "um uh, er... hmm", "?!,."):
        a = grade(Q_BPE, REF_BPE, answer)
        assert a.no_speech and a.score is None and a.percent is None


def test_reference_scores_high_and_unrelated_scores_low() -> None:
    good = grade(Q_BPE, REF_BPE, REF_BPE, KP_BPE)
    bad = grade(
        Q_BPE,
        REF_BPE,
        "The French revolution started in 1789 with the storming of the Bastille.",
        KP_BPE,
    )
    assert good.score is not None and good.score >= 0.9
    assert bad.score is not None and bad.score <= 0.2
    assert bad.off_topic and not good.off_topic
    assert all(k.covered for k in good.key_points)


def test_homophones_and_split_words_from_the_recogniser() -> None:
    clean = grade(
        Q_BPE,
        REF_BPE,
        "It merges the most frequent pair of tokens, again and again, until the vocabulary has the size you want. A subword tokenizer.",
        KP_BPE,
    )
    asr = grade(
        Q_BPE,
        REF_BPE,
        "It merges the most frequent pare of tokens, again and again, until the vocab ulary has the size you want. A sub word tokeniser.",
        KP_BPE,
    )
    assert clean.score is not None and asr.score is not None
    assert asr.score >= clean.score - 0.08
    assert _kp(asr, "It is a subword").status == "covered"


def test_bite_pair_encoding_phrasing_counts() -> None:
    kps = (KeyPoint("Byte pair encoding is used by GPT tokenizers.", 1.0, ("bite pair encoding",)),)
    a = grade(
        "Which tokenizer does GPT use?",
        "GPT uses byte pair encoding.",
        "GPT uses bite pair encoding",
        kps,
    )
    assert a.key_points[0].status == "covered"


def test_merged_compound_matches_split_compound() -> None:
    kps = ("You need a labelled data set.",)
    a = grade(
        "What do you need for supervised learning?",
        "You need a labelled data set.",
        "a labelled dataset",
        kps,
        semantic=False,
    )
    assert a.key_points[0].status == "covered"


def test_number_words_match_digits_in_the_reference() -> None:
    ref = "The model has 12 layers and 2 attention heads."
    q = "Describe the model."
    spoken = grade(q, ref, "It has twelve layers and two attention heads.", semantic=False)
    wrong = grade(q, ref, "It has four layers and eight attention heads.", semantic=False)
    assert spoken.score is not None and wrong.score is not None
    assert spoken.score > wrong.score
    assert spoken.key_points[0].status == "covered"


def test_paraphrase_beats_unrelated_answer() -> None:
    q = "What does dropout do during training?"
    ref = "Dropout randomly zeroes some activations during training, which reduces overfitting."
    para = grade(
        q,
        ref,
        "It switches off a random subset of neurons on each step so the network cannot memorise the training data.",
    )
    other = grade(q, ref, "It makes the learning rate larger at the beginning of each epoch.")
    assert para.score is not None and other.score is not None
    assert para.score > other.score + 0.1


def test_parroting_the_question_earns_little() -> None:
    parrot = grade(
        Q_BPE, REF_BPE, "Byte pair encoding is byte pair encoding, encoding bytes in pairs.", KP_BPE
    )
    real = grade(
        Q_BPE,
        REF_BPE,
        "It keeps merging the most frequent adjacent pair into a new token until the vocabulary is big enough.",
        KP_BPE,
    )
    assert parrot.score is not None and real.score is not None
    assert parrot.score < 0.3
    assert real.score > parrot.score + 0.3


def test_negated_statement_does_not_cover_the_point() -> None:
    kps = ("A vector store is needed.",)
    q = "What does a retrieval system require?"
    yes = grade(q, "A vector store is needed.", "A vector store is needed here.", kps)
    no = grade(q, "A vector store is needed.", "You do not need a vector store.", kps)
    assert yes.key_points[0].status == "covered"
    assert no.key_points[0].status != "covered"
    assert no.score is not None and yes.score is not None and no.score < yes.score


def test_misconception_stated_costs_its_penalty_and_negated_does_not() -> None:
    q = Question(
        id="vs",
        prompt=Q_VS,
        reference=REF_VS,
        key_points=(
            KeyPoint("A vector store is only needed to retrieve outside documents.", 2.0),
            KeyPoint("Summarising or translating text in the prompt needs no retrieval.", 1.0),
        ),
        misconceptions=(
            Misconception(
                "Every LLM application needs a vector database.",
                ("always need a vector database",),
                "Only retrieval over outside documents needs one.",
                0.2,
            ),
        ),
    )
    stated = grade_question(q, "Yes, you always need a vector database for every application.")
    negated = grade_question(
        q, "You don't always need a vector database; summarising the prompt needs no retrieval."
    )
    # the reference opens with "No.", so the "Yes" is reported as well
    assert [m.text for m in stated.misconceptions] == [
        "Every LLM application needs a vector database.",
        "Answered 'Yes'",
    ]
    ev = stated.misconceptions[0].evidence
    assert "vector database" in stated.misconceptions[0].evidence.text
    assert (
        ev.text
        == "Yes, you always need a vector database for every application."[ev.start : ev.end]
    )
    assert dict(stated.details)["misconception_penalty"] == pytest.approx(0.2)
    assert negated.misconceptions == ()


def test_evidence_offsets_point_at_the_right_words() -> None:
    answer = "Um, well. It is a subword tokenizer, uh, and it merges the most frequent pairs."
    a = grade(Q_BPE, REF_BPE, answer, KP_BPE)
    sub = _kp(a, "It is a subword")
    merges = _kp(a, "It repeatedly merges")
    for k in (sub, merges):
        assert k.evidence is not None
        assert answer[k.evidence.start : k.evidence.end] == k.evidence.text
    assert "subword" in sub.evidence.text and "merges" not in sub.evidence.text
    assert "merges" in merges.evidence.text and "frequent" in merges.evidence.text


def test_missed_points_have_no_evidence() -> None:
    a = grade(Q_BPE, REF_BPE, "It is a subword tokenizer.", KP_BPE)
    size = _kp(a, "Merging stops")
    assert size.status == "missed" and size.evidence is None


def test_key_points_derived_from_reference_sentences() -> None:
    a = grade(Q_BPE, REF_BPE, "A subword tokenization method.")
    assert len(a.key_points) == 2
    assert a.key_points[0].status == "covered"
    assert a.key_points[1].status != "covered"


def test_grading_is_deterministic_and_round_trips() -> None:
    answer = "It merges frequent pairs of bytes, like, until the vocab is big enough."
    a1 = grade(Q_BPE, REF_BPE, answer, KP_BPE)
    a2 = grade(Q_BPE, REF_BPE, answer, KP_BPE)
    assert a1 == a2
    assert Assessment.from_dict(a1.to_dict()) == a1
    assert 0.0 <= a1.score <= 1.0
    assert {"recall", "precision", "cosine", "key_points"} <= set(dict(a1.details))


def test_too_short_flag() -> None:
    assert grade(Q_BPE, REF_BPE, "Tokenizer.", KP_BPE).too_short
    assert not grade(Q_BPE, REF_BPE, REF_BPE, KP_BPE).too_short


def test_lexical_mode_needs_no_model() -> None:
    a = grade(Q_BPE, REF_BPE, REF_BPE, KP_BPE, semantic=False)
    assert dict(a.details)["semantic"] == 0.0
    assert a.score is not None and a.score >= 0.9


def test_prepare_warms_the_rubric_without_changing_the_grade() -> None:
    from questions.matcher import prepare

    q = Question(
        id="bpe-prep",
        prompt=Q_BPE,
        reference=REF_BPE,
        key_points=KP_BPE,
    )
    answer = "It merges the most frequent pairs of symbols until the vocabulary is big enough."
    cold = grade_question(q, answer)
    prepare(q)
    assert grade_question(q, answer) == cold


def test_derived_forms_share_a_root() -> None:
    assert nz.word_similarity("tokenizer", "tokenization") >= 0.8
    assert nz.word_similarity("tokeniser", "tokenizer") >= 0.9
    assert nz.word_similarity("general", "generation") == 0.0


def test_examples_and_latin_abbreviations_are_marked() -> None:
    text = "It shrinks ten times, e.g. from 300m to 30m. For example, video streams. Then more."
    toks = nz.tokens(text)
    example, abbrev = nz.asides(toks, text)
    marked = {t.norm for t, e in zip(toks, example, strict=True) if e}
    assert {"300m", "30m", "video", "streams"} <= marked
    assert not marked & {"shrinks", "ten", "then", "more"}
    assert [t.norm for t, a in zip(toks, abbrev, strict=True) if a] == ["e", "g"]


def test_an_answer_need_not_repeat_the_reference_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    from questions import matcher

    q = "What happens to the collision domain diameter when the network gets ten times faster?"
    ref = "The diameter shrinks by a factor of ten, e.g. from 3000 metres to 300 metres."
    ans = "The diameter shrinks by a factor of ten, since each frame is sent ten times quicker."
    weighted = grade(q, ref, ans).score
    monkeypatch.setattr(matcher, "EXAMPLE_WEIGHT", 1.0)
    matcher._unit.cache_clear()
    matcher._rubric.cache_clear()
    full = grade(q, ref, ans).score
    matcher._unit.cache_clear()
    matcher._rubric.cache_clear()
    assert weighted is not None and full is not None
    assert weighted > full


def test_an_opposite_word_does_not_stand_in_for_the_reference_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from questions import matcher

    q = "What happens to the air pressure in a sealed jar when you heat it?"
    ref = "The pressure increases, because the molecules move faster and hit the walls harder."
    wrong = "It decreases, because the molecules move slower and hit the walls harder."

    def recall() -> float:
        matcher._rubric.cache_clear()
        return dict(grade(q, ref, wrong).details)["recall"]

    with_opposites = recall()
    monkeypatch.setattr(nz, "ANTONYMS", {})
    without = recall()
    matcher._rubric.cache_clear()
    # "decreases" and "slower" sit close to "increases" and "faster" in the
    # embedding space; as opposites they must earn nothing
    assert with_opposites < without - 0.03


def test_restating_the_question_earns_no_sentence_contrast() -> None:
    q = "Why does a transformer need positional encodings?"
    ref = (
        "Self-attention treats its input as an unordered set, so without positional "
        "encodings the model could not tell word order apart."
    )
    restated = grade(q, ref, "A transformer needs positional encodings, that is why it has them.")
    answer = grade(q, ref, "Attention by itself ignores order, so position has to be added to each token.")
    c_restated = dict(restated.details)["contrast"]
    c_answer = dict(answer.details)["contrast"]
    assert c_restated < 0.05
    assert c_answer > c_restated + 0.05
    # the plain cosine would have paid the restatement for its topic
    assert dict(restated.details)["cosine"] > 0.2


CIRCUIT_Q = "Can she run both the light and the motor at the same time? Why or why not?"
CIRCUIT_REF = "No. Only one circuit can be complete at a time, so only one of them gets power."


@pytest.mark.parametrize(
    "answer",
    [
        "Yes, because the battery has enough power for both of them.",
        "Yes because only one circuit can be complete at a time.",
        "Yes it can, only one circuit is complete at a time.",
    ],
)
def test_the_opposite_verdict_is_a_wrong_answer(answer: str) -> None:
    a = grade(CIRCUIT_Q, CIRCUIT_REF, answer)
    right = grade(CIRCUIT_Q, CIRCUIT_REF, "No, only one circuit can be complete at a time.")
    assert a.score is not None and right.score is not None
    assert a.score < 0.35 < right.score
    assert not right.misconceptions
    (m,) = a.misconceptions
    assert m.evidence.text == "Yes" and answer[m.evidence.start : m.evidence.end] == "Yes"
    assert "'No'" in m.correction


def test_words_that_only_look_like_a_verdict_are_not_one() -> None:
    # "No one ...", the article "a", and a verdict the reference does not open with
    assert grade(CIRCUIT_Q, CIRCUIT_REF, "No one circuit can power both at a time.").misconceptions == ()
    q = "Which box did Julie build, A or B? What evidence supports your answer?"
    ref = "A. The water in her heater got hotter faster because its collector is larger."
    assert grade(q, ref, "A heater with a larger collector heats the water faster.").misconceptions == ()
    wrong = grade(q, ref, "B. The water in it got hotter faster.")
    assert [m.evidence.text for m in wrong.misconceptions] == ["B"]
    open_ref = "Only one circuit can be complete at a time."
    assert grade(CIRCUIT_Q, open_ref, "Yes, both can run.").misconceptions == ()


def test_a_spoken_number_word_weighs_like_the_word() -> None:
    from questions.matcher import _token_rarity

    text = "The sun stays in one place while 1 layer has 3 heads."
    toks = {t.norm + "@" + text[t.start : t.end]: t for t in nz.tokens(text)}
    said, written, three = toks["1@one"], toks["1@1"], toks["3@3"]
    assert _token_rarity(said, text) < 0.4  # "one" is mostly a pronoun or determiner
    assert _token_rarity(written, text) == _token_rarity(three, text) == 0.8
