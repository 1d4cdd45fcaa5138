"""Beam search in openai-whisper without the beam-wide first pass.

Whisper's beam search copies the prompt once per beam and runs the decoder's
first pass on every copy. That pass returns logits for every prompt position:
(beams x prompt tokens x 51,864) float32 values, about 115 MB for 5 beams and a
110-token prompt, of which the search reads two rows per beam (the
start-of-transcript position, for the no-speech probability, and the last
position). On a session process that already holds the model and the grader,
that transient decided the peak memory.

:class:`SharedPromptInference` runs the first pass once, on one copy, and
shares its key/value cache among the beams (later passes write fresh tensors,
so nothing is written through the shared view). The logits it returns are
allocated but only the rows the search reads are filled, so the untouched
pages never become resident. Every beam sees exactly the numbers the stock
pass would give it (``tests/audio_asr/test_whisper_decoding.py`` compares whole
decodes).

:func:`install` puts it in place of whisper's own ``PyTorchInference`` (the
decoding task looks the class up when it starts); it changes nothing else.
"""

from __future__ import annotations

from typing import Any

from audio import whisper_import


def _inference_class() -> type:
    import torch

    whisper_import.load()
    from whisper import decoding
    from whisper.tokenizer import get_tokenizer

    stock = getattr(decoding, "_stock_inference", decoding.PyTorchInference)

    class SharedPromptInference(stock):  # type: ignore[misc, valid-type]
        """``PyTorchInference`` whose first pass runs once for all beams."""

        kv_cache: dict[Any, torch.Tensor]
        """Set by whisper's own first pass, or by this one (see ``logits``)."""

        def __init__(self, model: Any, initial_token_length: int) -> None:
            super().__init__(model, initial_token_length)
            tokenizer = get_tokenizer(
                model.is_multilingual, num_languages=getattr(model, "num_languages", 99)
            )
            self.sot = tokenizer.sot

        def logits(self, tokens: torch.Tensor, audio_features: torch.Tensor) -> torch.Tensor:
            beams, length = tokens.shape
            first_pass = not self.kv_cache and length == self.initial_token_length
            if not (first_pass and beams > 1 and audio_features.shape[0] == 1):
                return super().logits(tokens, audio_features)
            if not bool((tokens == tokens[:1]).all()):
                return super().logits(tokens, audio_features)
            self.kv_cache, self.hooks = self.model.install_kv_cache_hooks()
            one = self.model.decoder(tokens[:1], audio_features, kv_cache=self.kv_cache)
            for module, cached in self.kv_cache.items():
                self.kv_cache[module] = cached.expand(beams, *cached.shape[1:])
            # the search reads the row of the start-of-transcript token and the
            # last row; the rest stays unwritten (and so never resident)
            out = torch.empty((beams, *one.shape[1:]), dtype=one.dtype)
            rows = [int(i) for i in torch.nonzero(tokens[0] == self.sot).flatten()]
            for row in {*rows, length - 1}:
                out[:, row] = one[0, row]
            return out

    return SharedPromptInference


def install() -> None:
    """Make whisper's decoding use :class:`SharedPromptInference` (idempotent)."""
    whisper_import.load()
    from whisper import decoding

    if getattr(decoding, "_stock_inference", None) is None:
        decoding._stock_inference = decoding.PyTorchInference
        decoding.PyTorchInference = _inference_class()


def uninstall() -> None:
    """Back to whisper's own inference class (tests compare the two)."""
    whisper_import.load()
    from whisper import decoding

    stock = getattr(decoding, "_stock_inference", None)
    if stock is not None:
        decoding.PyTorchInference = stock
        decoding._stock_inference = None
