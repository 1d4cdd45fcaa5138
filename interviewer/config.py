"""User settings: one JSON file in the config directory, with defaults."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from audio.beam import usable_beam
from interviewer import paths

SPEECH_ENGINES = ("pyttsx3", "piper")


@dataclass(frozen=True)
class Settings:
    input_device: str | None = None
    """Name or index of the microphone; None means the system default."""
    output_device: str | None = None
    speech_engine: str = "pyttsx3"
    """Voice that reads questions: "pyttsx3" (the system's espeak-ng voices, the
    default) or "piper" (a natural neural voice, en_US joe, rendered offline)."""
    voice: str | None = None
    """Voice id of the speech engine; None means the engine's default."""
    rate: int = 170
    """Speaking rate of the questions, words per minute."""
    speak_questions: bool = True
    whisper_model: str = "tiny.en"
    engine: str = "openai-whisper"
    """Speech-recognition engine: "openai-whisper" or "faster-whisper"."""
    threads: int = 1
    """Torch/CTranslate2 threads for transcription (1 is fastest on a busy 2-core box)."""
    beam_size: int = 5
    """Beam search width of the recogniser (1 = greedy: a whole answer in about
    two thirds of the time, with about an eighth more word errors). Live
    transcription decodes the last few seconds, the part you wait for, with at
    most 2 beams."""
    silence_timeout_s: float = 3.0
    """End an answer after this much silence once speech has begun."""
    max_answer_s: float = 180.0
    """Hard limit of one answer in practice mode."""
    rapid_answer_s: float = 45.0
    """Time per answer in rapid-fire rounds."""
    rapid_count: int = 10
    session_count: int = 5
    bank: str = "llm"
    followups: int = 1
    """Follow-up questions per practice question (0-2): the interviewer probes
    the heaviest key point that was missed or only partly given."""
    followup_share: float = 0.5
    """Share of a key point's weight earned when it is given only after a
    follow-up question (0-1)."""

    def updated(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings(path: Path | None = None) -> Settings:
    """Read settings; unknown keys are ignored, a broken file gives defaults
    (and is left in place so nothing the user wrote is lost)."""
    p = path or paths.settings_path()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    known = {f.name for f in fields(Settings)}
    clean = {k: v for k, v in raw.items() if k in known}
    if "beam_size" in clean and not usable_beam(clean["beam_size"]):
        del clean["beam_size"]  # not a usable beam width: the default
    if clean.get("speech_engine") not in (None, *SPEECH_ENGINES):
        del clean["speech_engine"]
    if "followups" in clean and clean["followups"] not in (0, 1, 2):
        del clean["followups"]
    share = clean.get("followup_share")
    if share is not None and not (isinstance(share, (int, float)) and 0 <= share <= 1):
        del clean["followup_share"]
    try:
        return Settings(**clean)
    except TypeError:
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    p = path or paths.settings_path()
    paths.private_dir(p.parent)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(p)
    return p
