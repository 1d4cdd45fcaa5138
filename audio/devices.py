"""Sound devices: loading PortAudio, listing inputs/outputs, choosing one.

``sounddevice`` is imported lazily (it loads the PortAudio shared library on
import). Every failure becomes one of the project's exceptions with a one-line
message: a missing library is ``NoPortAudio``, no microphone is
``NoMicrophone``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from audio.errors import NoMicrophone, NoPortAudio

PORTAUDIO_FIX = "sudo apt-get install libportaudio2"
"""The command that installs PortAudio on Debian/Ubuntu."""

NO_MIC_MESSAGE = (
    "No microphone found: connect one (or check PULSE_SERVER / your sound server), "
    "or type your answer instead"
)


@dataclass(frozen=True)
class Device:
    """One PortAudio device, as the user sees it in a list."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    def label(self) -> str:
        """``"3 pulse (ALSA) [default input]"``."""
        marks = []
        if self.is_default_input:
            marks.append("default input")
        if self.is_default_output:
            marks.append("default output")
        suffix = f" [{', '.join(marks)}]" if marks else ""
        return f"{self.index} {self.name} ({self.hostapi}){suffix}"


def sounddevice() -> Any:
    """Import ``sounddevice``; ``NoPortAudio`` when the library is missing."""
    try:
        with quiet_fds(stdout=False):
            import sounddevice as sd
    except OSError as exc:
        raise NoPortAudio(
            f"PortAudio is not installed ({exc}); install it with: {PORTAUDIO_FIX}"
        ) from None
    return sd


def refresh() -> None:
    """Re-read the device list (PortAudio reads it once, when first loaded).
    Needed when a sound server starts after the program did."""
    sd = sounddevice()
    with quiet_fds(stdout=False):
        sd._terminate()
        sd._initialize()


def list_devices(kind: Literal["input", "output"] | None = None) -> list[Device]:
    """Every device PortAudio knows (only inputs or outputs with ``kind``)."""
    sd = sounddevice()
    with quiet_fds(stdout=False):
        raw = list(sd.query_devices())
        apis = [api["name"] for api in sd.query_hostapis()]
        default_in, default_out = _defaults(sd)
    out = []
    for index, info in enumerate(raw):
        dev = Device(
            index=index,
            name=str(info["name"]),
            hostapi=apis[info["hostapi"]] if info["hostapi"] < len(apis) else "?",
            max_input_channels=int(info["max_input_channels"]),
            max_output_channels=int(info["max_output_channels"]),
            default_samplerate=float(info["default_samplerate"]),
            is_default_input=index == default_in,
            is_default_output=index == default_out,
        )
        if kind == "input" and not dev.is_input:
            continue
        if kind == "output" and not dev.is_output:
            continue
        out.append(dev)
    return out


def input_devices() -> list[Device]:
    return list_devices("input")


def output_devices() -> list[Device]:
    return list_devices("output")


def _defaults(sd: Any) -> tuple[int, int]:
    try:
        dev_in, dev_out = sd.default.device
    except (TypeError, ValueError):
        return -1, -1
    return _as_index(sd, dev_in, "input"), _as_index(sd, dev_out, "output")


def _as_index(sd: Any, spec: Any, kind: str) -> int:
    if isinstance(spec, int):
        return spec
    try:
        return int(sd.query_devices(spec, kind=kind)["index"])
    except Exception:
        return -1


def resolve_input(spec: str | int | None = None) -> Device:
    """The device to record from: ``spec`` is an index, a (part of a) name, or
    None for the system default. ``NoMicrophone`` when there is none."""
    try:
        return _resolve(spec, "input")
    except LookupError as exc:
        raise NoMicrophone(str(exc)) from None


def resolve_output(spec: str | int | None = None) -> Device:
    """The device to play through; ``LookupError`` (one-line message) when
    there is none: the caller turns it into its own exception."""
    return _resolve(spec, "output")


def _resolve(spec: str | int | None, kind: Literal["input", "output"]) -> Device:
    sd = sounddevice()
    if isinstance(spec, str) and spec.strip().lstrip("-").isdigit():
        spec = int(spec)
    with quiet_fds(stdout=False):
        try:
            info = sd.query_devices(spec, kind=kind)
        except (ValueError, sd.PortAudioError):
            info = None
    if info is None:
        if spec is None:
            if kind == "input":
                raise LookupError(NO_MIC_MESSAGE)
            raise LookupError(
                "No sound output device: connect one or check your sound server "
                "(PULSE_SERVER)"
            )
        names = "; ".join(d.label() for d in list_devices(kind)) or "none"
        raise LookupError(
            f"No {kind} device matching {spec!r} (available: {names}); "
            "choose another in the settings"
            + (" or type your answer instead" if kind == "input" else "")
        )
    index = int(info["index"])
    for dev in list_devices(kind):
        if dev.index == index:
            return dev
    raise LookupError(NO_MIC_MESSAGE if kind == "input" else "No sound output device")


@contextlib.contextmanager
def quiet_fds(stdout: bool = True, stderr: bool = True) -> Iterator[None]:
    """Send the process's stdout/stderr file descriptors to /dev/null for the
    duration: C libraries (ALSA, PortAudio, espeak) print there directly and
    would scribble over a full-screen terminal UI. Keep the window short."""
    targets = []
    if stdout:
        targets.append(1)
    if stderr:
        targets.append(2)
    saved: list[tuple[int, int]] = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        for fd in targets:
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
            except OSError:
                continue
        yield
    finally:
        for fd, copy in saved:
            try:
                os.dup2(copy, fd)
            finally:
                os.close(copy)
        os.close(devnull)
