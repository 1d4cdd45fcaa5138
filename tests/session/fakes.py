"""Small, documented fakes of the session ports, for unit tests of logic.

Import them as ``tests.session.fakes``. Everything here is deterministic and
fast; nothing touches a sound device or a model.

- ``FakeClock``: a monotonic clock you move by hand (``clock.advance(2.5)``).
- ``FakeSpeaker``: remembers what it was asked to say; ``available=False``
  makes it raise ``SpeechUnavailable`` like a machine without espeak-ng.
- ``FakeRecorder``: writes a real 16 kHz WAV (a quiet tone, or silence when
  ``speech=False``) and returns a ``Recording``; ``on_start(wav_path)`` runs
  before anything else in ``start`` (tests use it to check the attempt row
  already exists); ``no_microphone=True`` raises ``NoMicrophone``;
  ``ends_by_itself=True`` makes ``wait`` report the answer ended (silence).
- ``FakeTranscriber``: returns the given text(s) in order and remembers the
  hints it received.
- ``FakeGrader``: a transparent scorer: the weighted fraction of key points
  whose text or one of whose phrasings appears in the answer (lower case),
  less the penalty of each misconception whose text or phrasing appears.
- ``fixed_grader(score)``: always the same score.
- ``sample_bank()``: six questions over three topics and three difficulties.
- ``probe_bank()``: one question whose key points have weights and
  follow-up probes (apple 1, anchor 2, arrow 0.5, anvil 2) and a misconception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio.clip import SAMPLE_RATE, AudioClip, write_wav
from audio.errors import NoMicrophone, SpeechUnavailable
from audio.results import Recording, Segment, Transcript
from questions.assessment import Assessment, Evidence, KeyPointResult, MisconceptionResult
from questions.model import Bank, KeyPoint, Misconception, Question


class FakeClock:
    """A clock for ``SessionEngine(clock=...)``: starts at ``start`` and only
    moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeSpeaker:
    """Records every text it is asked to speak."""

    available: bool = True
    spoken: list[str] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)

    def prepare(self, text: str) -> None:
        self.prepared.append(text)

    def speak(self, text: str, cancel: threading.Event | None = None) -> None:
        if not self.available:
            raise SpeechUnavailable("no speech engine (fake); the question is shown instead")
        self.spoken.append(text)


def tone(duration_s: float, amplitude: float = 0.2, hz: float = 220.0) -> AudioClip:
    """A sine tone (stands in for speech in fake recordings)."""
    t = np.arange(int(duration_s * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    return AudioClip((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32))


def silence(duration_s: float) -> AudioClip:
    return AudioClip(np.zeros(int(duration_s * SAMPLE_RATE), dtype=np.float32))


class FakeRecorder:
    """A recorder that writes a real WAV file without a sound device.

    ``start`` writes the file at once (a crash after ``start`` leaves audio on
    disk, as with the real recorder); ``stop`` rewrites it complete and
    returns the ``Recording``.
    """

    def __init__(
        self,
        *,
        speech: bool = True,
        duration_s: float = 2.0,
        ends_by_itself: bool = False,
        no_microphone: bool = False,
        on_start: Callable[[Path], None] | None = None,
        clip: AudioClip | None = None,
    ) -> None:
        self.speech = speech
        self.duration_s = duration_s
        self.ends_by_itself = ends_by_itself
        self.no_microphone = no_microphone
        self.on_start = on_start
        self.clip = clip
        self.started: list[Path] = []
        self.stopped = 0
        self._path: Path | None = None
        self._ended = False

    def _audio(self) -> AudioClip:
        if self.clip is not None:
            return self.clip
        return tone(self.duration_s) if self.speech else silence(self.duration_s)

    def start(self, wav_path: Path, on_level: Callable[[float], None] | None = None) -> None:
        if self.on_start is not None:
            self.on_start(Path(wav_path))
        if self.no_microphone:
            raise NoMicrophone("no input device (fake); type your answer instead")
        self._path = Path(wav_path)
        self._ended = False
        self.started.append(self._path)
        write_wav(self._path, self._audio())
        if on_level is not None:
            on_level(0.5 if self.speech else 0.0)

    def wait(self, timeout: float | None = None) -> bool:
        if self.ends_by_itself:
            self._ended = True
        return self._ended

    def stop(self) -> Recording:
        if self._path is None:
            raise RuntimeError("FakeRecorder.stop() before start()")
        clip = self._audio()
        write_wav(self._path, clip)
        self.stopped += 1
        return Recording(
            path=self._path,
            duration_s=clip.duration_s,
            speech_detected=self.speech,
            stopped_by="silence" if self._ended else "user",
            speech_start_s=0.0 if self.speech else None,
            speech_end_s=clip.duration_s if self.speech else None,
        )


class FakeTranscriber:
    """Returns ``texts`` one per call (the last one repeats). Its text is
    canned, so it never skips speech that would need decoding again."""

    beam_size = 5
    skips_speech = False

    def __init__(self, texts: str | Sequence[str] = "") -> None:
        self.texts = [texts] if isinstance(texts, str) else list(texts)
        self.hints: list[str] = []
        """The prompt of each call: the hint, then any text heard before."""
        self.clips: list[AudioClip] = []

    def transcribe(
        self, clip: AudioClip, hint: str = "", *, context: str = "", beam_size: int | None = None
    ) -> Transcript:
        self.hints.append(" ".join([hint, context]).strip())
        self.clips.append(clip)
        i = min(len(self.clips) - 1, len(self.texts) - 1)
        text = self.texts[i] if self.texts else ""
        segs = (Segment(0.0, clip.duration_s, text),) if text else ()
        return Transcript(text=text, segments=segs, duration_s=clip.duration_s, engine="fake")


class FakeGrader:
    """Weighted fraction of key points mentioned (text or a phrasing, case-insensitive)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, question: Question, text: str) -> Assessment:
        self.calls.append((question.id, text))
        low = text.lower()
        results = []
        total = sum(k.weight for k in question.key_points) or 1.0
        got = 0.0
        for k in question.key_points:
            hit = next((p for p in (k.text, *k.phrasings) if p.lower() in low), None)
            ev = None
            if hit is not None:
                got += k.weight
                start = low.index(hit.lower())
                ev = Evidence(text[start : start + len(hit)], start, start + len(hit))
            results.append(
                KeyPointResult(
                    text=k.text,
                    weight=k.weight,
                    status="covered" if hit else "missed",
                    similarity=1.0 if hit else 0.0,
                    evidence=ev,
                )
            )
        found = []
        for m in question.misconceptions:
            hit = next((p for p in (m.text, *m.phrasings) if p.lower() in low), None)
            if hit is not None:
                start = low.index(hit.lower())
                ev = Evidence(text[start : start + len(hit)], start, start + len(hit))
                found.append(MisconceptionResult(m.text, m.correction, m.penalty, ev))
        score = max(0.0, got / total - sum(m.penalty for m in found))
        return Assessment(
            score=round(score, 4), key_points=tuple(results), misconceptions=tuple(found)
        )


def fixed_grader(score: float) -> Callable[[Question, str], Assessment]:
    """A grader that always returns ``score`` (all key points missed)."""

    def grade(question: Question, text: str) -> Assessment:
        return Assessment(score=score)

    return grade


def _q(qid: str, topic: str, difficulty: int, words: tuple[str, str, str]) -> Question:
    return Question(
        id=qid,
        prompt=f"Explain {qid.replace('-', ' ')}.",
        reference=f"A reference answer about {qid} that mentions {', '.join(words)}.",
        key_points=tuple(KeyPoint(text=w, phrasings=(f"{w}s",)) for w in words),
        topics=(topic,),
        difficulty=difficulty,
        terms=(words[0].upper(), words[1]),
    )


def sample_bank() -> Bank:
    """Six questions: topics alpha/beta/gamma, difficulties 1-3, ids q1..q6."""
    return Bank(
        name="sample",
        title="Sample bank for tests",
        questions=(
            _q("q1", "alpha", 1, ("apple", "anchor", "arrow")),
            _q("q2", "alpha", 2, ("banana", "bridge", "bottle")),
            _q("q3", "beta", 3, ("cherry", "castle", "candle")),
            _q("q4", "beta", 1, ("date", "dragon", "drum")),
            _q("q5", "gamma", 2, ("elder", "engine", "eagle")),
            _q("q6", "gamma", 3, ("fig", "falcon", "flute")),
        ),
    )


PROBED = Question(
    id="tools",
    prompt="Name the tools.",
    reference="Apple, anchor, arrow and anvil.",
    key_points=(
        KeyPoint("apple", weight=1.0, probe="What grows on the tree?"),
        KeyPoint("anchor", weight=2.0, probe="What holds the ship in place?"),
        KeyPoint("arrow", weight=0.5, probe="What does the archer shoot?"),
        KeyPoint("anvil", weight=2.0, probe="What does the smith strike on?"),
    ),
    misconceptions=(
        Misconception("the moon is cheese", phrasings=("moon is made of cheese",),
                      correction="It is rock.", penalty=0.1),
    ),
)
"""A question with weighted, probed key points (total weight 5.5)."""


def probe_bank() -> Bank:
    """One question (``PROBED``, id "tools") for follow-up tests."""
    return Bank(name="tools", title="Tools", questions=(PROBED,))
