"""The sentence model in questions.semantic: its own tokenizer wrapper, weight
loading and lean encoder, against what the library (transformers'
BertTokenizer and BertModel) gives for the same model.

The library's answers are stored in ``data/minilm_pieces.json`` (word pieces
for varied text) and ``data/minilm_vectors.npz`` (float32 word and sentence
vectors), so the comparison runs where transformers is not installed (the
trainer does not depend on it). ``python -m tests.questions_matcher.test_semantic``
writes the two files again and compares the encoder with the library's
BertModel live on a padded batch (that needs transformers).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from questions import semantic

DATA = Path(__file__).parent / "data"
PIECES = DATA / "minilm_pieces.json"
VECTORS = DATA / "minilm_vectors.npz"

TEXTS = (
    "attention weights come from the dot product of queries and keys",
    "lora freezes the base model and trains small low rank adapters",
    "no",
)

VARIED = (
    "Self-attention lets every token look at every other token.",
    "The KV-cache stores keys & values: O(n) memory, not O(n^2) compute!",
    "don't won't it's O'Neil rock'n'roll y'all",
    "café naïve Straße façade résumé Ångström ÉCOLE",
    "中文字符 and 日本語 mixed with English; 한국어 too",
    "emoji 🙂👍🏽 and symbols ©®™ ≤ ≥ √ ∑ ∫",
    "x**2 + y^2 = z; f(x) => g[x] {a: 1}",
    "https://example.com/path?q=1&r=2#frag user@example.com",
    "C++ C# F# .NET node.js GPT-4o LLaMA-2 BERT-base-uncased",
    "3.14159 1,000,000 1e-9 50% $20 #hashtag @mention 6th 21st",
    "“smart quotes” ‘single’ — em-dash – en-dash … ellipsis",
    "zero\u200bwidth\u00a0no-break space\ttab",
    "control\x00chars\x07here",
    "ＦＵＬＬ　ＷＩＤＴＨ ｔｅｘｔ and ﬁ ligature",
    "combining e\u0301 versus é precomposed",
    "Ελληνικά русский текст עברית العربية हिन्दी",
    "[CLS] [SEP] [MASK] [UNK] [PAD] ##piece",
    "supercalifragilisticexpialidocious " + "a" * 120,
    "UPPER lower MiXeD CamelCase snake_case kebab-case",
    "um so like the gradient uh vanishes you know in deep RNNs",
    "ReLU/GELU/SiLU activations; softmax(QK^T/√d)V",
    "byte pair encoding bite pare en coding BPE tokenisers",
    "RLHF reward hacking: the policy exploits the reward model",
    "LoRA, QLoRA, adapters, prefix-tuning and prompt-tuning",
    "",
)


def _cases() -> list[list[str]]:
    out: list[list[str]] = []
    for text in VARIED + TEXTS:
        for words in (text.split(), text.lower().replace("-", " ").split()):
            if words and words not in out:
                out.append(words)
    out.append(["", "a", "   ", "b"])
    out.append([" ".join(VARIED)])
    return out


# ---------------------------------------------------------------- stored library answers


def test_word_pieces_match_the_library_tokenizer() -> None:
    cases = json.loads(PIECES.read_text(encoding="utf-8"))
    assert len(cases) > 40
    tok = semantic._Tokenizer(semantic.model_path())
    for case in cases:
        ids, word_ids = tok.pieces(case["words"])
        assert ids == case["ids"], case["words"]
        assert list(word_ids) == case["word_ids"], case["words"]


def test_special_tokens_match_the_library() -> None:
    stored = json.loads(PIECES.read_text(encoding="utf-8"))[0]["special"]
    tok = semantic._Tokenizer(semantic.model_path())
    assert [tok.cls_token_id, tok.sep_token_id, tok.unk_token_id] == stored


def test_no_truncation_at_the_files_128_pieces() -> None:
    tok = semantic._Tokenizer(semantic.model_path())
    ids, _ = tok.pieces(["word"] * 300)
    assert len(ids) == 300


def _stored_vectors() -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    data = np.load(VECTORS)
    return [(TEXTS[i].split(), data[f"words{i}"], data[f"sentence{i}"]) for i in range(len(TEXTS))]


@pytest.fixture()
def float32_model(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(semantic, "BF16", False)
    monkeypatch.setattr(semantic, "_MODEL", None)
    semantic.load()
    return semantic


def _min_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=-1)))


def test_float32_vectors_match_the_library(float32_model) -> None:
    assert float32_model._get().model.dtype == torch.float32
    for words, word_vecs, sentence in _stored_vectors():
        got = float32_model.embed_words(words)
        assert got.vectors.shape == word_vecs.shape
        assert _min_cos(got.vectors, word_vecs) > 0.99999, words
        assert _min_cos(got.sentence, sentence) > 0.99999, words


def test_working_precision_vectors_match_the_library() -> None:
    for words, word_vecs, sentence in _stored_vectors():
        got = semantic.embed_words(words)
        assert _min_cos(got.vectors, word_vecs) > 0.999, words
        assert _min_cos(got.sentence, sentence) > 0.999, words


def test_loading_imports_no_model_library() -> None:
    import subprocess

    code = (
        "import sys; from questions import semantic; semantic.load(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'transformers', 'sentence_transformers', 'huggingface_hub', 'scipy', 'sklearn', 'sympy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the encoder itself


def _float32_weights():
    path = semantic.model_path()
    return semantic._read_weights(path, torch.float32, 6), semantic._read_json(
        str(Path(path) / "config.json")
    )


@pytest.fixture(scope="module")
def weights():
    return _float32_weights()


def _padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of ``TEXTS``, padded to one width."""
    tok = semantic._Tokenizer(semantic.model_path())
    rows = [[tok.cls_token_id, *tok.pieces(t.split())[0], tok.sep_token_id] for t in TEXTS]
    width = max(map(len, rows))
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


@pytest.fixture(scope="module")
def batch():
    return _padded_batch()


def _agreement(a, b, mask) -> float:
    cos = torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)
    return float(cos[mask.bool()].min())


def test_padding_does_not_change_a_row(weights, batch) -> None:
    ids, mask = batch
    enc = semantic._Encoder(*weights, torch.float32, 6)
    short = int(mask[2].sum())
    with torch.inference_mode():
        alone = enc(ids[2:3, :short], mask[2:3, :short])
        padded = enc(ids, mask)[2:3, :short]
    assert _agreement(alone, padded, mask[2:3, :short]) > 0.99999


def test_bfloat16_paths_agree_with_float32(weights, batch) -> None:
    if not semantic._bf16_native(torch):
        pytest.skip("this CPU has no native bfloat16")
    ids, mask = batch
    with torch.inference_mode():
        expected = semantic._Encoder(*weights, torch.float32, 6)(ids, mask)
        packed = semantic._Encoder(*weights, torch.bfloat16, 6)
        plain = semantic._Encoder(*weights, torch.bfloat16, 6, pack=False)
        got_packed, got_plain = packed(ids, mask), plain(ids, mask)
    assert packed.packed and not plain.packed
    assert _agreement(got_packed, expected, mask) > 0.999
    assert _agreement(got_plain, expected, mask) > 0.999


def test_weights_skip_the_pooler_and_unused_layers() -> None:
    w = semantic._read_weights(semantic.model_path(), torch.bfloat16, 2)
    assert not any(k.startswith(("pooler.", "encoder.layer.2.")) for k in w)
    assert {t.dtype for t in w.values()} == {torch.bfloat16}


# ---------------------------------------------------------------- writing the stored answers


def _compare_encoder_with_library() -> None:
    """The lean encoder against the library's BertModel, live, on a padded
    batch (needs transformers, like the regeneration)."""
    import transformers

    ids, mask = _padded_batch()
    weights = _float32_weights()
    bert = transformers.BertModel.from_pretrained(semantic.model_path(), local_files_only=True)
    assert not bool(mask.all()), "the batch must contain padding"
    with torch.inference_mode():
        expected = bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = semantic._Encoder(*weights, torch.float32, 6)(ids, mask)
        from_library = semantic._Encoder(bert.state_dict(), bert.config.to_dict(), torch.float32, 6)
        again = from_library(ids, mask)
    assert ours.shape == expected.shape
    assert _agreement(ours, expected, mask) > 0.99999
    assert torch.equal(ours, again), "the file's weights are the library's weights"
    print("the encoder agrees with the library's BertModel on a padded batch")


def _regenerate() -> None:
    """Ask the library (transformers) for the stored answers."""
    from transformers import AutoTokenizer, BertModel

    path = semantic.model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    special = [tok.cls_token_id, tok.sep_token_id, tok.unk_token_id]
    cases = []
    for words in _cases():
        enc = tok(words, is_split_into_words=True, add_special_tokens=False)
        cases.append({"words": words, "ids": enc["input_ids"], "word_ids": enc.word_ids()})
    cases[0]["special"] = special
    DATA.mkdir(exist_ok=True)
    PIECES.write_text(json.dumps(cases, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    bert = BertModel.from_pretrained(path, local_files_only=True).eval()
    arrays = {}
    for i, text in enumerate(TEXTS):
        words = text.split()
        enc = tok(words, is_split_into_words=True, return_tensors="pt")
        with torch.inference_mode():
            h = bert(**enc).last_hidden_state[0].numpy()
        owner = np.array([-1 if w is None else w for w in enc.word_ids()])
        vecs = np.stack([h[owner == k].mean(axis=0) for k in range(len(words))])
        arrays[f"words{i}"] = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        sent = h.mean(axis=0)
        arrays[f"sentence{i}"] = (sent / np.linalg.norm(sent)).astype(np.float32)
    np.savez_compressed(VECTORS, **arrays)
    print(f"wrote {PIECES.name} ({len(cases)} cases) and {VECTORS.name}")


if __name__ == "__main__":
    _regenerate()
    _compare_encoder_with_library()
