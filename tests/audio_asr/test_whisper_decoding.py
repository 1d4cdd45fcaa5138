"""Beam search with one shared first pass decodes exactly what whisper's own
inference decodes, on the real model and real speech."""

from __future__ import annotations

import numpy as np
import pytest

from audio import whisper_decoding
from audio.clip import read_audio
from tests.conftest import TEST_DATA

PROMPT = (
    "Glossary: transformer; LoRA; RLHF. A transformer replaces recurrence with "
    "self-attention, and the adapters can be merged back after training."
)


def _decode(model, samples: np.ndarray, beam: int) -> list[tuple]:
    import torch

    torch.manual_seed(0)
    with torch.inference_mode():
        result = model.transcribe(
            samples,
            language="en",
            fp16=False,
            temperature=(0.0, 0.2),
            beam_size=beam,
            initial_prompt=PROMPT,
            carry_initial_prompt=True,
            verbose=None,
        )
    return [
        (s["tokens"], s["text"], s["avg_logprob"], s["no_speech_prob"])
        for s in result["segments"]
    ]


@pytest.mark.slow
def test_shared_first_pass_gives_the_same_beam_search(whisper_tiny):
    model = whisper_tiny._model  # loading installed the shared first pass
    samples = read_audio(TEST_DATA / "jfk.flac").samples.astype(np.float32)

    batches: list[int] = []
    hook = model.decoder.register_forward_pre_hook(lambda _m, args: batches.append(args[0].shape))
    try:
        lean = _decode(model, samples, beam=5)
    finally:
        hook.remove()
    first = batches[0]
    assert first[0] == 1 and first[1] > 20, "the prompt's pass ran once, not once per beam"
    assert all(shape == (5, 1) for shape in batches[1:])

    whisper_decoding.uninstall()
    try:
        stock = _decode(model, samples, beam=5)
    finally:
        whisper_decoding.install()

    assert [s[:2] for s in lean] == [s[:2] for s in stock], "same tokens, same text"
    for mine, theirs in zip(lean, stock, strict=True):
        assert mine[2] == pytest.approx(theirs[2], abs=1e-4)
        assert mine[3] == pytest.approx(theirs[3], abs=1e-4)
    assert "country" in " ".join(s[1] for s in lean).lower()


@pytest.mark.slow
def test_greedy_search_is_left_to_whisper(whisper_tiny):
    model = whisper_tiny._model
    samples = read_audio(TEST_DATA / "jfk.flac").samples.astype(np.float32)
    batches: list[int] = []
    hook = model.decoder.register_forward_pre_hook(lambda _m, args: batches.append(args[0].shape))
    try:
        greedy = _decode(model, samples, beam=None)
    finally:
        hook.remove()
    assert batches[0][0] == 1 and greedy
    whisper_decoding.install()  # idempotent
    whisper_decoding.install()
    from whisper import decoding

    assert decoding.PyTorchInference.__name__ == "SharedPromptInference"
    assert decoding._stock_inference.__name__ == "PyTorchInference"
