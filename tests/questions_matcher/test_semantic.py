"""The lean encoder in questions.semantic against the library's BERT forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from questions import semantic  # noqa: E402

TEXTS = (
    "attention weights come from the dot product of queries and keys",
    "lora freezes the base model and trains small low rank adapters",
    "no",
)


@pytest.fixture(scope="module")
def bert():
    model = transformers.BertModel.from_pretrained(semantic.model_path(), local_files_only=True)
    return model.eval()


@pytest.fixture(scope="module")
def batch(bert):
    tok = transformers.AutoTokenizer.from_pretrained(semantic.model_path(), local_files_only=True)
    enc = tok(list(TEXTS), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def _agreement(a, b, mask) -> float:
    cos = torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)
    return float(cos[mask.bool()].min())


def test_float32_encoder_matches_library_on_a_padded_batch(bert, batch) -> None:
    ids, mask = batch
    assert not bool(mask.all()), "the batch must contain padding"
    with torch.inference_mode():
        expected = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = semantic._Encoder(bert, torch.float32, 6)(ids, mask)
    assert ours.shape == expected.shape
    assert _agreement(ours, expected, mask) > 0.99999


def test_padding_does_not_change_a_row(bert, batch) -> None:
    ids, mask = batch
    enc = semantic._Encoder(bert, torch.float32, 6)
    short = int(mask[2].sum())
    with torch.inference_mode():
        alone = enc(ids[2:3, :short], mask[2:3, :short])
        padded = enc(ids, mask)[2:3, :short]
    assert _agreement(alone, padded, mask[2:3, :short]) > 0.99999


def test_bfloat16_paths_agree_with_float32(bert, batch) -> None:
    if not semantic._bf16_native(torch):
        pytest.skip("this CPU has no native bfloat16")
    ids, mask = batch
    with torch.inference_mode():
        expected = semantic._Encoder(bert, torch.float32, 6)(ids, mask)
        packed = semantic._Encoder(bert, torch.bfloat16, 6)
        plain = semantic._Encoder(bert, torch.bfloat16, 6, pack=False)
        got_packed, got_plain = packed(ids, mask), plain(ids, mask)
    assert packed.packed and not plain.packed
    assert _agreement(got_packed, expected, mask) > 0.999
    assert _agreement(got_plain, expected, mask) > 0.999
