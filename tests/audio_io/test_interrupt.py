"""Interrupting the interviewer: cancelling a question mid-sentence stops the
voice on the (virtual) speaker within 0.3 s, for both speech engines.

What the speaker really played is measured, not what ``speak`` returned: the
virtual speaker's monitor is recorded in 10 ms blocks, each stamped with the
moment it reached this process. A block arrives after it was played, so "the
last loud block arrived less than 0.3 s after the cancel" is a bound the real
playback can only beat; a voice that went on would show up as loud blocks
arriving well after the cancel (``test_the_measure_sees_a_voice_that_is_not_cut``
checks the measure on exactly that).

Each test plays into a sink of its own on the virtual sound card (a null sink
kept running by a loopback of the card's silent source, as ``up.sh`` does for
``vspeaker``; PortAudio's default device is routed to it through
``PULSE_SINK``), so that nothing else playing on ``vspeaker`` at the same time
can be mistaken for the voice.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, AudioClip, read_audio
from audio.tts import make_speaker

LONG = (
    "Explain how low rank adaptation fine tunes a large language model, which matrices "
    "it trains, and why it needs so much less memory than full fine tuning."
)
SHORT = "What problem does attention solve in a transformer model?"
STOP_WITHIN_S = 0.3
BLOCK = SAMPLE_RATE // 100
"""Samples per captured block: 10 ms."""
LOUD_RMS = 0.01
"""A block louder than this (-40 dBFS) is voice; the card's silence is exactly 0."""


class TimedCapture:
    """Records ``source`` (16 kHz mono) in 10 ms blocks, each with the
    ``time.monotonic()`` at which it arrived here."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.blocks: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()
        self._triggers: list[tuple[float, Callable[[], None]]] = []
        self._loud_s = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> TimedCapture:
        self._proc = subprocess.Popen(
            ["parec", f"--device={self.source}", "--raw", f"--rate={SAMPLE_RATE}",
             "--channels=1", "--format=s16le", "--latency-msec=10"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 5.0
        while not self.blocks and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.blocks, f"no samples from {self.source}"
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None and self._reader is not None
        self._proc.terminate()
        self._proc.wait(5)
        self._reader.join(5)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        pending = b""
        while True:
            data = self._proc.stdout.read(2 * BLOCK)
            if not data:
                return
            pending += data
            while len(pending) >= 2 * BLOCK:
                raw, pending = pending[: 2 * BLOCK], pending[2 * BLOCK :]
                block = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
                self._arrived(time.monotonic(), block)

    def _arrived(self, at: float, block: np.ndarray) -> None:
        fire = []
        with self._lock:
            self.blocks.append((at, block))
            if _rms(block) > LOUD_RMS:
                self._loud_s += len(block) / SAMPLE_RATE
                fire = [t for t in self._triggers if self._loud_s >= t[0]]
                self._triggers = [t for t in self._triggers if t not in fire]
        for _after, action in fire:
            action()

    def after_loud(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` (on the reader thread) once ``seconds`` of voice
        have been heard: the voice is then surely mid-sentence."""
        with self._lock:
            self._triggers.append((seconds, action))

    def loud_times(self, since: float = 0.0) -> list[float]:
        """Arrival times of the loud blocks that arrived after ``since``."""
        with self._lock:
            return [at for at, block in self.blocks if at >= since and _rms(block) > LOUD_RMS]

    def clip(self, since: float = 0.0) -> AudioClip:
        with self._lock:
            parts = [block for at, block in self.blocks if at >= since]
        return AudioClip(np.concatenate(parts) if parts else np.zeros(0, np.float32))


def _rms(block: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(block)))) if len(block) else 0.0


@contextlib.contextmanager
def private_sink(name: str) -> Iterator[str]:
    """A sink of its own on the virtual card, PortAudio's output while the
    block runs; yields its monitor source."""

    def pactl(*args: str) -> str:
        return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True,
                              timeout=20).stdout.strip()

    sink = pactl("load-module", "module-null-sink", f"sink_name={name}",
                 f"sink_properties=device.description={name}")
    loop = pactl("load-module", "module-loopback", "source=vsilence", f"sink={name}",
                 "latency_msec=20", "source_dont_move=true", "sink_dont_move=true")
    previous = os.environ.get("PULSE_SINK")
    os.environ["PULSE_SINK"] = name
    try:
        # a new sink renders at the loopback's low latency once it has run a moment
        with TimedCapture(f"{name}.monitor"):
            time.sleep(1.5)
        yield f"{name}.monitor"
    finally:
        if previous is None:
            os.environ.pop("PULSE_SINK", None)
        else:
            os.environ["PULSE_SINK"] = previous
        subprocess.run(["pactl", "unload-module", loop], capture_output=True, timeout=20)
        subprocess.run(["pactl", "unload-module", sink], capture_output=True, timeout=20)


@pytest.fixture(scope="module")
def speaker_monitor(vaudio) -> Iterator[str]:
    with private_sink(f"vinterrupt{os.getpid()}") as monitor:
        yield monitor


def cut_while_speaking(speaker, text: str, monitor: str, after_voice_s: float = 1.0,
                       honour_cancel: bool = True) -> dict[str, float]:
    """Speak ``text``; once ``after_voice_s`` of it has reached the speaker,
    set the cancel flag. Returns the moments that matter (monotonic seconds)."""
    cancel = threading.Event()
    marks: dict[str, float] = {}

    def stop() -> None:
        marks["cancel"] = time.monotonic()
        cancel.set()

    with TimedCapture(monitor) as capture:
        capture.after_loud(after_voice_s, stop)
        marks["speak"] = time.monotonic()
        speaker.speak(text, cancel if honour_cancel else None)
        marks["returned"] = time.monotonic()
        time.sleep(0.8)  # whatever still played after the cancel arrives by now
    assert "cancel" in marks, "the voice never reached the speaker"
    loud = capture.loud_times(since=marks["speak"])
    marks["first_loud"] = loud[0]
    marks["last_loud"] = loud[-1]
    before = [t for t in loud if marks["cancel"] - 0.3 <= t <= marks["cancel"]]
    marks["voiced_before_cancel_s"] = len(before) * BLOCK / SAMPLE_RATE
    return marks


@pytest.mark.audio
@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["pyttsx3", "piper"])
def test_cancelling_mid_sentence_stops_the_voice_within_0_3_s(
    engine: str, speaker_monitor: str, tmp_path: Path
) -> None:
    speaker = make_speaker(engine, tmp_path, rate=170)
    whole_s = read_audio(speaker.render(LONG)).duration_s  # rendering is not what is timed
    assert whole_s > 6.0
    marks = cut_while_speaking(speaker, LONG, speaker_monitor)
    # the cut came mid-sentence: voice in the last 0.3 s before it, and most still to come
    assert marks["voiced_before_cancel_s"] >= 0.1, marks
    assert marks["cancel"] - marks["first_loud"] < whole_s - 3.0, marks
    stopped = marks["last_loud"] - marks["cancel"]
    assert stopped < STOP_WITHIN_S, f"{engine}: voice went on {stopped:.3f} s after cancel"
    returned = marks["returned"] - marks["cancel"]
    assert returned < STOP_WITHIN_S, f"{engine}: speak() returned {returned:.3f} s after cancel"


@pytest.mark.audio
@pytest.mark.e2e
def test_the_measure_sees_a_voice_that_is_not_cut(speaker_monitor: str, tmp_path: Path) -> None:
    """The same measure on a speaker that ignores the cancel: the voice goes
    on well past 0.3 s, and the measure says so."""
    speaker = make_speaker("pyttsx3", tmp_path, rate=170)
    whole_s = read_audio(speaker.render(SHORT)).duration_s
    marks = cut_while_speaking(speaker, SHORT, speaker_monitor, after_voice_s=0.8,
                               honour_cancel=False)
    went_on = marks["last_loud"] - marks["cancel"]
    assert went_on > 1.0, marks
    assert marks["last_loud"] - marks["first_loud"] > whole_s * 0.7, marks


@pytest.mark.audio
@pytest.mark.e2e
def test_cancelling_while_a_question_is_still_rendered_returns_at_once(
    speaker_monitor: str, tmp_path: Path
) -> None:
    """Cancelled before a word was played (Piper still rendering): speak()
    returns within 0.3 s, nothing reaches the speaker, and the rendering
    finishes in the background into the cache."""
    speaker = make_speaker("piper", tmp_path, rate=170, warm=True)
    text = LONG + " " + SHORT
    cancel = threading.Event()
    with TimedCapture(speaker_monitor) as capture:
        timer = threading.Timer(0.1, cancel.set)
        started = time.monotonic()
        timer.start()
        speaker.speak(text, cancel)
        returned = time.monotonic()
        timer.join()
        time.sleep(0.5)
    assert returned - (started + 0.1) < STOP_WITHIN_S
    assert not capture.loud_times(since=started), "a cancelled question was played"
    assert speaker.wait_prepared(60)
    assert speaker.is_cached(text)
