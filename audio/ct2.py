"""CTranslate2's ``model.bin`` read with numpy, and mapped onto an
openai-whisper state dict.

The bundled tiny.en ships in CTranslate2 format only; :mod:`audio.weights`
turns it into an ordinary whisper checkpoint with :func:`whisper_state`.
Every CTranslate2 variable must map onto exactly one whisper tensor (anything
left over, missing or of the wrong shape is an error), so a format change
fails loudly at conversion instead of producing a model that mishears.

Pure numpy at import; only :func:`verify_state` imports whisper (and torch).
"""

from __future__ import annotations

import base64
import gzip
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from audio import whisper_import

_CT2_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
    5: "bfloat16",
}
_CT2_BINARY_VERSIONS = (5, 6)

_REQUIRED_SCALARS = {
    "decoder/activation": 3,  # GELU in CTranslate2's activation enum
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/alibi": 0,
    "decoder/alibi_use_positive_positions": 0,
    "decoder/scale_alibi": 0,
    "decoder/start_from_zero_embedding": 0,
}
"""Configuration scalars that must hold the value whisper's architecture implies."""
_INFORMATIVE_SCALARS = {"decoder/alignment_heads", "decoder/alignment_layer"}


# ---------------------------------------------------------------------------
# Reading CTranslate2's model.bin


class CT2Weights:
    """A parsed CTranslate2 ``model.bin``: variable name -> numpy array, plus aliases.

    Layout (little endian): u32 binary version, str spec name, u32 spec revision,
    u32 count, then per variable: str name, u8 rank, u32 dims[rank], u8 dtype,
    u32 byte count, raw row-major bytes; then u32 alias count and (alias, target)
    string pairs. A string is a u16 length (with the trailing NUL) and its bytes.
    """

    def __init__(self, data: bytes) -> None:
        self._buf = memoryview(data)
        self._pos = 0
        self.binary_version = self._uint("I")
        if self.binary_version not in _CT2_BINARY_VERSIONS:
            raise ValueError(f"unsupported CTranslate2 binary version {self.binary_version}")
        self.spec_name = self._str()
        self.spec_revision = self._uint("I")
        self.variables: dict[str, np.ndarray] = {}
        for _ in range(self._uint("I")):
            name = self._str()
            rank = self._uint("B")
            shape = tuple(self._uint("I") for _ in range(rank))
            dtype_id = self._uint("B")
            nbytes = self._uint("I")
            raw = self._buf[self._pos : self._pos + nbytes]
            if len(raw) != nbytes:
                raise ValueError(f"model.bin is truncated inside {name}")
            self._pos += nbytes
            self.variables[name] = _decode_array(raw, shape, dtype_id, name)
        self.aliases: dict[str, str] = {}
        for _ in range(self._uint("I")):
            alias = self._str()
            self.aliases[alias] = self._str()
        if self._pos != len(self._buf):
            raise ValueError(
                f"model.bin has {len(self._buf) - self._pos} unexpected trailing bytes"
            )

    @classmethod
    def read(cls, path: Path) -> CT2Weights:
        return cls(path.read_bytes())

    def _uint(self, fmt: str) -> int:
        try:
            (value,) = struct.unpack_from("<" + fmt, self._buf, self._pos)
        except struct.error:
            raise ValueError("model.bin is truncated") from None
        self._pos += struct.calcsize("<" + fmt)
        return int(value)

    def _str(self) -> str:
        n = self._uint("H")
        raw = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        if len(raw) != n or not raw or raw[-1] != 0:
            raise ValueError("model.bin holds a malformed string")
        return raw[:-1].decode("utf-8")

    def resolve(self, name: str) -> str:
        return self.aliases.get(name, name)


def _decode_array(raw: memoryview, shape: tuple[int, ...], dtype_id: int, name: str) -> np.ndarray:
    if dtype_id not in _CT2_DTYPES:
        raise ValueError(f"{name}: unknown CTranslate2 dtype id {dtype_id}")
    dtype = _CT2_DTYPES[dtype_id]
    if dtype == "bfloat16":
        arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    want = int(np.prod(shape)) if shape else 1
    if arr.size != want:
        raise ValueError(f"{name}: {arr.size} values where shape {shape} needs {want}")
    return arr.reshape(shape)


# ---------------------------------------------------------------------------
# Mapping CTranslate2 names onto openai-whisper's state dict


class _StateBuilder:
    """Consumes CT2 variables and produces whisper tensors; every CT2 variable
    must be consumed exactly once (anything left over is an error)."""

    def __init__(self, ct2: CT2Weights) -> None:
        self.ct2 = ct2
        self.used: set[str] = set()
        self.state: dict[str, np.ndarray] = {}

    def take(self, name: str) -> np.ndarray:
        target = self.ct2.resolve(name)
        if target not in self.ct2.variables:
            raise ValueError(f"the CTranslate2 model lacks {name}")
        self.used.update((name, target))
        arr = self.ct2.variables[target]
        if arr.dtype == np.int8 and target.endswith("/weight"):
            scale_name = target[: -len("weight")] + "weight_scale"
            scale = self.ct2.variables[scale_name].astype(np.float32)
            self.used.add(scale_name)
            arr = arr.astype(np.float32) / scale.reshape(-1, *([1] * (arr.ndim - 1)))
        return arr

    def put(self, key: str, value: np.ndarray) -> None:
        if key in self.state:
            raise ValueError(f"two CT2 variables map onto {key}")
        self.state[key] = value

    def norm(self, src: str, dst: str) -> None:
        self.put(f"{dst}.weight", self.take(f"{src}/gamma"))
        self.put(f"{dst}.bias", self.take(f"{src}/beta"))

    def dense(self, src: str, dst: str) -> None:
        self.put(f"{dst}.weight", self.take(f"{src}/weight"))
        self.put(f"{dst}.bias", self.take(f"{src}/bias"))

    def fused(self, src: str, dsts: list[str]) -> None:
        """Split a fused projection (rows stacked q|k|v or k|v). Whisper's key
        projections have no bias; CTranslate2 stores zeros there."""
        weight, bias = self.take(f"{src}/weight"), self.take(f"{src}/bias")
        parts = len(dsts)
        if weight.shape[0] % parts or bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{src}: cannot split {weight.shape} into {parts} projections")
        for dst, w, b in zip(dsts, np.split(weight, parts), np.split(bias, parts), strict=True):
            self.put(f"{dst}.weight", w)
            if dst.endswith(".key"):
                if float(np.abs(b.astype(np.float32)).max()) != 0.0:
                    raise ValueError(f"{src}: non-zero key bias, which whisper cannot represent")
            else:
                self.put(f"{dst}.bias", b)

    def layer_count(self, side: str) -> int:
        pattern = re.compile(rf"{side}/layer_(\d+)/")
        return len({m.group(1) for n in self.ct2.variables if (m := pattern.match(n))})

    def build(self) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        ct2 = self.ct2
        for name, want in _REQUIRED_SCALARS.items():
            if name in ct2.variables:
                got = int(ct2.variables[name])
                if got != want:
                    raise ValueError(f"{name}={got}; whisper's architecture needs {want}")
                self.used.add(name)
        self.used.update(n for n in _INFORMATIVE_SCALARS if n in ct2.variables)

        enc_layers, dec_layers = self.layer_count("encoder"), self.layer_count("decoder")
        conv1 = ct2.variables["encoder/conv1/weight"]
        emb = ct2.variables["decoder/embeddings/weight"]
        dims = {
            "n_mels": int(conv1.shape[1]),
            "n_audio_ctx": int(ct2.variables["encoder/position_encodings/encodings"].shape[0]),
            "n_audio_state": int(conv1.shape[0]),
            "n_audio_head": int(ct2.variables["encoder/num_heads"]),
            "n_audio_layer": enc_layers,
            "n_vocab": int(emb.shape[0]),
            "n_text_ctx": int(ct2.variables["decoder/position_encodings/encodings"].shape[0]),
            "n_text_state": int(emb.shape[1]),
            "n_text_head": int(ct2.variables["decoder/num_heads"]),
            "n_text_layer": dec_layers,
        }
        self.used.update(("encoder/num_heads", "decoder/num_heads"))

        self.dense("encoder/conv1", "encoder.conv1")
        self.dense("encoder/conv2", "encoder.conv2")
        # A persistent buffer in whisper, so the state dict must carry it.
        self.put("encoder.positional_embedding", self.take("encoder/position_encodings/encodings"))
        for i in range(enc_layers):
            src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
            self.norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
            self.fused(
                f"{src}/self_attention/linear_0",
                [f"{dst}.attn.{p}" for p in ("query", "key", "value")],
            )
            self.dense(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
            self._mlp(src, dst)
        self.norm("encoder/layer_norm", "encoder.ln_post")

        self.put("decoder.token_embedding.weight", self.take("decoder/embeddings/weight"))
        self.put("decoder.positional_embedding", self.take("decoder/position_encodings/encodings"))
        for i in range(dec_layers):
            src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
            self.norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
            self.fused(
                f"{src}/self_attention/linear_0",
                [f"{dst}.attn.{p}" for p in ("query", "key", "value")],
            )
            self.dense(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
            self.norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
            self.dense(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
            self.fused(
                f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"]
            )
            self.dense(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
            self._mlp(src, dst)
        self.norm("decoder/layer_norm", "decoder.ln")
        self._tied_projection(emb)

        leftover = sorted(set(ct2.variables) - self.used)
        if leftover:
            raise ValueError(f"CTranslate2 variables with no whisper counterpart: {leftover[:5]}")
        return dims, self.state

    def _mlp(self, src: str, dst: str) -> None:
        self.norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
        self.dense(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        self.dense(f"{src}/ffn/linear_1", f"{dst}.mlp.2")

    def _tied_projection(self, emb: np.ndarray) -> None:
        """Whisper always computes logits against the token embedding, with no bias."""
        name = "decoder/projection/weight"
        target = self.ct2.resolve(name)
        if target != "decoder/embeddings/weight" and not np.array_equal(
            self.ct2.variables[target], emb
        ):
            raise ValueError("the output projection is not tied to the embedding")
        self.used.update((name, target))
        bias = self.ct2.variables.get("decoder/projection/bias")
        if bias is not None:
            if float(np.abs(bias.astype(np.float32)).max()) != 0.0:
                raise ValueError("the output projection has a bias, which whisper cannot represent")
            self.used.add("decoder/projection/bias")


def alignment_heads_mask(heads: list[tuple[int, int]], n_layer: int, n_head: int) -> str:
    """(layer, head) pairs encoded as whisper's ``set_alignment_heads`` expects
    (a gzip'd boolean mask in base85)."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def verify_state(dims: dict[str, int], state: dict[str, Any]) -> int:
    """Check the key set and every shape against a freshly built
    ``whisper.model.Whisper(dims)``; returns the number of tensors checked."""
    whisper_import.load()
    from whisper.model import ModelDimensions, Whisper

    reference = Whisper(ModelDimensions(**dims)).state_dict()
    missing = sorted(set(reference) - set(state))
    extra = sorted(set(state) - set(reference))
    if missing or extra:
        raise ValueError(
            f"converted keys differ from whisper's: missing {missing[:3]}, extra {extra[:3]}"
        )
    for key, tensor in reference.items():
        if tuple(tensor.shape) != tuple(state[key].shape):
            raise ValueError(
                f"{key}: whisper wants {tuple(tensor.shape)}, got {tuple(state[key].shape)}"
            )
    return len(reference)


def whisper_state(ct2: CT2Weights) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Whisper's model dimensions and state dict (numpy arrays) for ``ct2``."""
    return _StateBuilder(ct2).build()


def alignment_heads(config: dict[str, Any], dims: dict[str, int]) -> str | None:
    """The alignment heads of a CTranslate2 ``config.json`` in whisper's
    encoding, or None when it lists none."""
    heads = config.get("alignment_heads")
    if not heads:
        return None
    pairs = [(int(a), int(b)) for a, b in heads]
    return alignment_heads_mask(pairs, dims["n_text_layer"], dims["n_text_head"])
