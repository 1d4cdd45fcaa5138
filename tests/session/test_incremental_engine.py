"""The engine transcribes while the person speaks: a recorder that streams its
blocks (``StreamingRecorder``) feeds an ``IncrementalTranscriber`` started by
``start_answer``; ``transcribe`` then only waits for the tail. Fakes for the
audio ports, a real SQLite store, the real incremental transcriber; one
real-model test at real-time pace (slow, e2e)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, AudioClip
from audio.errors import NoMicrophone
from audio.results import Recording, Transcript
from interviewer.config import Settings
from interviewer.session.engine import Ports, SessionEngine
from interviewer.session.model import Phase, SessionConfig
from interviewer.session.store import Store
from tests.session.fakes import (
    FakeClock,
    FakeGrader,
    FakeRecorder,
    FakeSpeaker,
    FakeTranscriber,
    sample_bank,
    silence,
    tone,
)

FIRST, TAIL = "an apple and an anchor", "then an arrow"


def spoken_answer(first_s: float = 10.0, gap_s: float = 1.0, tail_s: float = 5.0) -> AudioClip:
    """Two "sentences" (tones) with a pause between them: the incremental
    transcriber cuts in the pause, once at least 8 s have gathered."""
    parts = [tone(first_s).samples, silence(gap_s).samples, tone(tail_s, hz=330.0).samples]
    return AudioClip(np.concatenate(parts).astype(np.float32))


class StreamingRecorder(FakeRecorder):
    """A ``FakeRecorder`` that also streams its clip to ``feed`` in blocks, on
    its own thread, like the real recorder's writer thread.

    ``pace`` 1.0 feeds at real-time speed, 0 as fast as possible. The
    recording "ends by itself" (``wait`` -> True) once the whole clip is fed
    when ``ends_by_itself``; ``stop`` feeds whatever is left at once (the
    person was done) and reports failed feeds in ``Recording.extra``.
    ``drop`` (block indices) simulates blocks the feed never got.
    """

    def __init__(self, clip: AudioClip, *, pace: float = 0.0, block_s: float = 0.1,
                 drop: tuple[int, ...] = (), **kw) -> None:
        super().__init__(clip=clip, speech=kw.pop("speech", True), **kw)
        self.feed: Callable[[np.ndarray], None] | None = None
        self.pace = pace
        self.block_s = block_s
        self.drop = set(drop)
        self.fed_s = 0.0
        self.feed_errors = 0
        self.feeds_seen: list[object] = []
        self._hurry = threading.Event()
        self._fed_all = threading.Event()
        self._pump: threading.Thread | None = None

    def start(self, wav_path: Path, on_level=None) -> None:
        super().start(wav_path, on_level)
        self.feeds_seen.append(self.feed)
        self.fed_s = 0.0
        self.feed_errors = 0
        self._hurry.clear()
        self._fed_all.clear()
        self._pump = threading.Thread(target=self._run, daemon=True)
        self._pump.start()

    def _run(self) -> None:
        samples = self._audio().samples
        step = int(self.block_s * SAMPLE_RATE)
        for i, at in enumerate(range(0, len(samples), step)):
            block = samples[at : at + step]
            feed = self.feed
            if feed is not None and i not in self.drop:
                try:
                    feed(block)
                except Exception:
                    self.feed_errors += 1
            elif i in self.drop:
                self.feed_errors += 1
            self.fed_s += len(block) / SAMPLE_RATE
            if self.pace and not self._hurry.is_set():
                time.sleep(self.block_s / self.pace)
        self._fed_all.set()

    def fed_everything(self, timeout: float | None = None) -> bool:
        return self._fed_all.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        if self.ends_by_itself:
            self._ended = self._fed_all.wait(timeout)
        return self._ended

    def stop(self) -> Recording:
        self._hurry.set()
        if self._pump is not None:
            self._pump.join()
        rec = super().stop()
        return Recording(
            path=rec.path, duration_s=rec.duration_s, speech_detected=rec.speech_detected,
            stopped_by=rec.stopped_by, speech_start_s=rec.speech_start_s,
            speech_end_s=rec.speech_end_s, extra={"feed_errors": self.feed_errors},
        )


class FlakyTranscriber(FakeTranscriber):
    """Fails its first ``failures`` calls (a recogniser error mid-answer)."""

    def __init__(self, texts, failures: int = 1) -> None:
        super().__init__(texts)
        self.failures = failures

    def transcribe(self, clip: AudioClip, hint: str = "", **options) -> Transcript:
        if self.failures > 0:
            self.failures -= 1
            self.clips.append(clip)
            raise RuntimeError("the recogniser crashed")
        return super().transcribe(clip, hint, **options)


def wait_until(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data" / "attempts.sqlite3")
    yield s
    s.close()


def make(store, recorder, transcriber, *, mode: str = "practice", incremental=True,
         grader=None) -> SessionEngine:
    cfg = SessionConfig(mode=mode, bank="sample", order="sequential", count=2,
                        time_limit_s=45.0 if mode == "rapid" else None)
    engine = SessionEngine(
        sample_bank(), store, Ports(FakeSpeaker(), recorder, transcriber, grader or FakeGrader()),
        Settings(), cfg, clock=FakeClock(), rng=random.Random(3), incremental=incremental,
    )
    engine.start()
    engine.next_question()
    return engine


def test_the_answer_is_transcribed_while_spoken_and_only_the_tail_after(store):
    clip = spoken_answer()
    recorder = StreamingRecorder(clip)
    transcriber = FakeTranscriber([FIRST, TAIL])
    engine = make(store, recorder, transcriber)
    q = engine.current
    engine.start_answer()
    assert recorder.feeds_seen[-1] is not None, "the recorder streams to the transcriber"
    # the first stretch is recognised before the answer ends
    wait_until(lambda: engine.partial_transcript() == FIRST)
    assert engine.phase is Phase.LISTENING and len(transcriber.clips) == 1
    assert 8.0 <= transcriber.clips[0].duration_s <= 11.0  # cut inside the pause
    assert transcriber.hints[0].startswith(q.recogniser_hint())
    engine.stop_answer()
    assert recorder.feed is None, "the feed is detached when the answer ends"
    transcript = engine.transcribe()
    assert transcript.text == f"{FIRST} {TAIL}"
    # finish() transcribed only the tail; the whole file never went to the recogniser
    assert len(transcriber.clips) == 2
    assert sum(c.duration_s for c in transcriber.clips) == pytest.approx(clip.duration_s, abs=0.01)
    assert all(c.duration_s < clip.duration_s - 4 for c in transcriber.clips)
    assert TAIL in transcriber.hints[1] or FIRST in transcriber.hints[1]  # context carried
    row = store.get_attempt(engine.attempt.id)
    assert row.state == "transcribed" and row.transcript == transcript.text
    assert row.extra["asr"]["incremental"]["stretches"] == 2
    assert row.delivery and row.delivery["words"] == len(transcript.text.split())
    assert engine.partial_transcript() == ""
    assert engine.grade().score == pytest.approx(1.0)  # apple, anchor, arrow


def test_partial_text_grows_at_real_time_pace(store):
    recorder = StreamingRecorder(spoken_answer(9.0, 1.0, 3.0), pace=8.0, ends_by_itself=True)
    engine = make(store, recorder, FakeTranscriber([FIRST, TAIL]))
    engine.start_answer()
    seen = set()
    while not engine.answer_ended(0.02):
        seen.add(engine.partial_transcript())
    assert seen >= {"", FIRST}, seen
    engine.stop_answer()
    assert engine.transcribe().text == f"{FIRST} {TAIL}"


def test_a_failed_live_transcription_falls_back_to_the_whole_file(store):
    clip = spoken_answer()
    recorder = StreamingRecorder(clip)
    transcriber = FlakyTranscriber(["the whole answer: apple anchor arrow"], failures=1)
    engine = make(store, recorder, transcriber)
    engine.start_answer()
    wait_until(lambda: len(transcriber.clips) == 1)  # the live stretch failed
    engine.stop_answer()
    transcript = engine.transcribe()
    assert transcript.text == "the whole answer: apple anchor arrow"
    assert transcriber.clips[-1].duration_s == pytest.approx(clip.duration_s, abs=0.01)
    extra = store.get_attempt(engine.attempt.id).extra
    assert "recogniser crashed" in extra["asr_incremental_failed"]
    assert "incremental" not in extra["asr"]


def test_lost_blocks_fall_back_to_the_whole_file(store):
    clip = spoken_answer()
    recorder = StreamingRecorder(clip, drop=(30,))
    transcriber = FakeTranscriber([FIRST, "from the file"])
    engine = make(store, recorder, transcriber)
    engine.start_answer()
    wait_until(lambda: engine.partial_transcript() == FIRST)
    engine.stop_answer()
    transcript = engine.transcribe()
    assert len(transcriber.clips) == 2, "the live tail was not transcribed, the file was"
    assert transcriber.clips[-1].duration_s == pytest.approx(clip.duration_s, abs=0.01)
    assert transcript.text == "from the file"
    assert "did not reach" in store.get_attempt(engine.attempt.id).extra["asr_incremental_failed"]


def test_skip_cancels_the_live_transcription(store):
    recorder = StreamingRecorder(spoken_answer(10.0, 1.0, 12.0))
    transcriber = FakeTranscriber([FIRST, TAIL])
    engine = make(store, recorder, transcriber)
    engine.start_answer()
    live = engine.live_transcriber
    wait_until(lambda: engine.partial_transcript() == FIRST)
    engine.skip()
    live._worker.join(5)
    assert not live._worker.is_alive() and live._cancelled.is_set()
    assert len(transcriber.clips) == 1, "the rest was never transcribed"
    assert recorder.feed is None and engine.live_transcriber is None
    assert engine.partial_transcript() == ""
    assert store.get_attempt(engine.attempt.id).state == "skipped"


def test_skip_after_recording_and_finish_cancel_too(store):
    recorder = StreamingRecorder(spoken_answer(), ends_by_itself=True)
    engine = make(store, recorder, FakeTranscriber([FIRST, TAIL]))
    engine.start_answer()
    live = engine.live_transcriber
    engine.stop_answer()
    engine.skip()  # while transcribing
    live._worker.join(5)
    assert live._cancelled.is_set()
    engine.next_question()
    engine.start_answer()
    second = engine.live_transcriber
    assert second is not live and second is not None
    engine.finish()  # keeps the second answer: its live transcription is finished, not cancelled
    second._worker.join(5)
    assert not second._worker.is_alive() and recorder.feed is None
    assert store.get_attempt(engine.attempt.id).state == "graded"


def test_no_speech_never_reaches_the_recogniser(store):
    recorder = StreamingRecorder(silence(12.0), speech=False)
    transcriber = FakeTranscriber("hallucinated words")
    engine = make(store, recorder, transcriber)
    engine.start_answer()
    live = engine.live_transcriber
    recorder.fed_everything(5)
    engine.stop_answer()
    live._worker.join(5)
    assert live._cancelled.is_set()
    assert engine.transcribe().text == ""
    assert store.get_attempt(engine.attempt.id).extra["no_speech"] is True


def test_no_microphone_cancels_the_live_transcription(store):
    recorder = StreamingRecorder(spoken_answer(), no_microphone=True)
    engine = make(store, recorder, FakeTranscriber(FIRST))
    with pytest.raises(NoMicrophone):
        engine.start_answer()
    assert recorder.feed is None and engine.live_transcriber is None


def test_turned_off_or_without_a_streaming_recorder_the_file_is_transcribed(store, tmp_path):
    clip = spoken_answer()
    for recorder, incremental in ((StreamingRecorder(clip), False), (FakeRecorder(clip=clip), True)):
        transcriber = FakeTranscriber("whole")
        engine = make(Store(tmp_path / f"{incremental}.sqlite3"), recorder, transcriber,
                      incremental=incremental)
        engine.start_answer()
        assert engine.live_transcriber is None and getattr(recorder, "feed", None) is None
        engine.stop_answer()
        assert engine.transcribe().text == "whole"
        assert [c.duration_s for c in transcriber.clips] == [pytest.approx(clip.duration_s, abs=0.01)]


def test_rapid_round_finishes_the_live_transcription_in_the_background(store):
    clip = spoken_answer()
    recorder = StreamingRecorder(clip)
    transcriber = FakeTranscriber([FIRST, TAIL])
    engine = make(store, recorder, transcriber, mode="rapid")
    engine.start_answer()
    wait_until(lambda: engine.partial_transcript() == FIRST)
    attempt_id = engine.defer_answer()
    assert engine.phase is Phase.FEEDBACK and engine.live_transcriber is None
    assert engine.finish(wait_s=10).ungraded == ()
    row = store.get_attempt(attempt_id)
    assert row.state == "graded" and row.transcript == f"{FIRST} {TAIL}"
    assert row.extra["background"] is True and row.extra["asr"]["incremental"]["stretches"] == 2
    assert len(transcriber.clips) == 2 and max(c.duration_s for c in transcriber.clips) < 11
    assert row.score == pytest.approx(1.0)


def test_rapid_round_falls_back_to_the_file_when_the_live_transcription_failed(store):
    clip = spoken_answer()
    transcriber = FlakyTranscriber(["apple from the file"], failures=1)
    engine = make(store, StreamingRecorder(clip), transcriber, mode="rapid")
    engine.start_answer()
    wait_until(lambda: len(transcriber.clips) == 1)
    attempt_id = engine.defer_answer()
    engine.finish(wait_s=10)
    row = store.get_attempt(attempt_id)
    assert row.state == "graded" and row.transcript == "apple from the file"
    assert "recogniser crashed" in row.extra["asr_incremental_failed"]
    assert transcriber.clips[-1].duration_s == pytest.approx(clip.duration_s, abs=0.01)


# --- the real recogniser at real-time pace -------------------------------------------


@pytest.mark.slow
@pytest.mark.e2e
def test_real_whisper_streams_a_spoken_answer_and_answers_soon_after_it_ends(
    whisper_tiny, tmp_path
):
    """jfk.flac twice with a pause (about 23 s), fed in 100 ms blocks at real
    time through the real engine and the real recogniser: when the answer
    ends only the tail is left. Prints the stop -> transcript time."""
    from audio.clip import read_audio
    from tests.conftest import TEST_DATA
    from tests.session.test_engine_real_model import BANK

    jfk = read_audio(TEST_DATA / "jfk.flac")
    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    clip = AudioClip(np.concatenate([jfk.samples, gap, jfk.samples]).astype(np.float32))
    transcriber = whisper_tiny
    recorder = StreamingRecorder(clip, pace=1.0, ends_by_itself=True)
    store = Store(tmp_path / "attempts.sqlite3")
    engine = SessionEngine(
        BANK, store, Ports(FakeSpeaker(), recorder, transcriber, FakeGrader()), Settings(),
        SessionConfig(bank="speeches", count=1), clock=FakeClock(), rng=random.Random(0),
    )
    engine.start()
    engine.next_question()
    engine.start_answer()
    partial_during_answer = ""
    while not engine.answer_ended(0.1):
        partial_during_answer = engine.partial_transcript() or partial_during_answer
    stopped = time.perf_counter()
    engine.stop_answer()
    transcript = engine.transcribe()
    latency = time.perf_counter() - stopped
    live = store.get_attempt(engine.attempt.id).extra["asr"]["incremental"]
    print(f"\n{clip.duration_s:.1f} s answer: transcript {latency:.2f} s after it ended "
          f"({live['stretches']} stretches, {live['during_answer_s']:.2f} s of work during it)")
    text = transcript.text.lower()
    assert "fellow americans" in partial_during_answer.lower(), partial_during_answer
    assert text.count("fellow americans") == 2 and text.count("your country") >= 3, text
    assert live["stretches"] >= 2
    assert engine.grade().score == pytest.approx(2 / 3, abs=1e-3)
    store.close()
