"""Incremental transcription: pause finding, stretch planning, the worker
thread, and the real model against batch transcription."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, AudioClip
from audio.energy import (
    StretchOptions,
    find_pauses,
    next_cut,
    plan_stretches,
    split_point,
    too_few_words,
)
from audio.incremental import (
    MIN_REPAIR_VOICED_S,
    TAIL_BEAM_MAX_S,
    TAIL_BEAM_SIZE,
    IncrementalTranscriber,
    repeats,
    skipped_from,
)
from audio.results import Segment, Transcript
from tests.conftest import ENGINES, TINY, needs_espeak

RATE = SAMPLE_RATE
CHUNKS = StretchOptions(min_chunk_s=8.0, max_chunk_s=20.0)


def tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def quiet(seconds: float, level: float = 1e-4) -> np.ndarray:
    return np.random.default_rng(0).normal(0, level, int(seconds * RATE)).astype(np.float32)


def speech_like(pattern: list[tuple[str, float]]) -> np.ndarray:
    return np.concatenate([tone(s) if kind == "talk" else quiet(s) for kind, s in pattern])


# -- pauses and cuts ----------------------------------------------------------------


def test_find_pauses_reports_only_long_enough_gaps():
    samples = speech_like(
        [("talk", 2.0), ("gap", 0.6), ("talk", 1.0), ("gap", 0.15), ("talk", 1.0)]
    )
    pauses = find_pauses(samples, RATE, 0.35)
    assert len(pauses) == 1
    start, end = pauses[0]
    assert start == pytest.approx(2.0, abs=0.06) and end == pytest.approx(2.6, abs=0.06)


def test_find_pauses_adapts_to_a_noise_floor():
    noise = np.random.default_rng(1).normal(0, 0.01, int(4.5 * RATE)).astype(np.float32)
    samples = speech_like([("talk", 2.0), ("gap", 0.5), ("talk", 2.0)]) + noise
    pauses = find_pauses(samples, RATE, 0.35)
    assert len(pauses) == 1 and pauses[0][0] == pytest.approx(2.0, abs=0.06)


def test_find_pauses_on_empty_input():
    assert find_pauses(np.zeros(0, np.float32), RATE, 0.3) == []


def test_next_cut_waits_for_enough_audio_then_cuts_mid_pause():
    early = speech_like([("talk", 3.0), ("gap", 0.6), ("talk", 3.0)])
    assert next_cut(early, RATE, StretchOptions(min_chunk_s=8.0)) is None

    samples = speech_like([("talk", 3.0), ("gap", 0.6), ("talk", 6.0), ("gap", 0.6), ("talk", 2.0)])
    cut = next_cut(samples, RATE, StretchOptions(min_chunk_s=8.0, max_chunk_s=24.0))
    assert cut is not None
    assert cut / RATE == pytest.approx(9.6 + 0.3, abs=0.06)  # middle of the pause after 8 s


def test_next_cut_forces_a_cut_when_nobody_pauses():
    samples = tone(30.0)
    samples[int(15 * RATE) : int(15.2 * RATE)] *= 0.05  # a brief dip, shorter than a pause
    options = StretchOptions(8.0, 24.0)
    assert next_cut(samples[: int(20 * RATE)], RATE, options) is None
    cut = next_cut(samples, RATE, options)
    assert cut is not None and cut / RATE == pytest.approx(15.1, abs=0.2)


def test_plan_stretches_covers_the_clip_without_gaps():
    pattern = []
    for _ in range(12):
        pattern += [("talk", 4.0), ("gap", 0.5)]
    samples = speech_like(pattern)
    spans = plan_stretches(samples, RATE, StretchOptions(10.0, 24.0))
    assert spans[0][0] == 0 and spans[-1][1] == len(samples)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all((end - start) / RATE <= 24.0 for start, end in spans)
    assert all((end - start) / RATE >= 10.0 for start, end in spans[:-1])
    assert plan_stretches(samples[: 5 * RATE], RATE) == [(0, 5 * RATE)]


# -- the worker, with a transcriber we control ---------------------------------------
# The stand-in answers one word per call, far too few for the tone it hears, so
# the tests of the worker's mechanics switch the skipped-speech repair off; the
# repair has its own tests below.


class Recording:
    """A stand-in transcriber: one segment per call covering the audio it got."""

    skips_speech = False

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[float, str, str]] = []
        self.delay_s = delay_s
        self.fail = False
        self.beam_size = 5
        self.beams: list[int | None] = []

    def transcribe(
        self, clip: AudioClip, hint: str = "", *, context: str = "", beam_size: int | None = None
    ) -> Transcript:
        if self.fail:
            raise RuntimeError("engine broke")
        time.sleep(self.delay_s)
        n = len(self.calls)
        self.calls.append((clip.duration_s, hint, context))
        self.beams.append(beam_size)
        seg = Segment(0.1, clip.duration_s - 0.1, f"part{n}")
        return Transcript(f"part{n}", (seg,), clip.duration_s, "fake", "fake", 0.0, (f"junk{n}",))


def feed_all(inc: IncrementalTranscriber, samples: np.ndarray, pace_s: float = 0.0) -> float:
    """Feed 100 ms blocks; returns the longest time one feed() took."""
    slowest = 0.0
    for i in range(0, len(samples), RATE // 10):
        started = time.perf_counter()
        inc.feed(samples[i : i + RATE // 10])
        slowest = max(slowest, time.perf_counter() - started)
        if pace_s:
            time.sleep(pace_s)
    return slowest


def answer_pattern(sentences: int = 6, talk_s: float = 4.0) -> np.ndarray:
    pattern = []
    for _ in range(sentences):
        pattern += [("talk", talk_s), ("gap", 0.6)]
    return speech_like(pattern[:-1])


def test_stretches_are_transcribed_while_feeding_and_only_the_tail_at_the_end():
    fake = Recording()
    inc = IncrementalTranscriber(fake, "LoRA", stretches=CHUNKS, repair=False)
    samples = answer_pattern(6)  # 27 s with a pause every 4.6 s
    feed_all(inc, samples, pace_s=0.002)
    time.sleep(0.3)
    calls_before_finish = len(fake.calls)
    result = inc.finish()

    assert calls_before_finish >= 2, "finished stretches must not wait for the end"
    assert len(fake.calls) == calls_before_finish + 1
    tail = fake.calls[-1][0]
    assert tail < 10.0, "only the tail is left for finish()"
    assert sum(c[0] for c in fake.calls) == pytest.approx(len(samples) / RATE, abs=0.01)
    assert [s.text for s in result.segments] == [f"part{i}" for i in range(len(fake.calls))]
    assert result.text == " ".join(f"part{i}" for i in range(len(fake.calls)))
    assert result.duration_s == pytest.approx(len(samples) / RATE)
    assert len(result.rejected) == len(fake.calls)
    assert inc.stretches[-1].final and not any(s.final for s in inc.stretches[:-1])


def test_timestamps_are_absolute():
    fake = Recording()
    inc = IncrementalTranscriber(fake, stretches=CHUNKS, repair=False)
    feed_all(inc, answer_pattern(6), pace_s=0.002)
    result = inc.finish()
    offset = 0.0
    for seg, (duration, _, _) in zip(result.segments, fake.calls, strict=True):
        assert seg.start == pytest.approx(offset + 0.1, abs=1e-3)
        assert seg.end == pytest.approx(offset + duration - 0.1, abs=1e-3)
        offset += duration
    assert [s.start_s for s in inc.stretches][1:] == [s.end_s for s in inc.stretches][:-1]


def test_text_so_far_is_carried_as_context():
    aware = Recording()
    inc = IncrementalTranscriber(aware, "LoRA", stretches=CHUNKS, repair=False)
    feed_all(inc, answer_pattern(6), pace_s=0.002)
    inc.finish()
    assert [c[1] for c in aware.calls] == ["LoRA"] * len(aware.calls)
    assert aware.calls[1][2] == "part0"


def test_only_the_tail_takes_the_smaller_beam():
    """Stretches decoded during speech use the transcriber's own beam (None);
    the tail the person waits for asks for ``tail_beam_size``."""
    aware = Recording()
    inc = IncrementalTranscriber(aware, "LoRA", stretches=CHUNKS, repair=False)
    feed_all(inc, answer_pattern(6), pace_s=0.002)
    inc.finish()
    assert len(aware.beams) >= 3
    assert aware.beams[:-1] == [None] * (len(aware.beams) - 1)
    assert aware.beams[-1] == TAIL_BEAM_SIZE == 2

    own = Recording()
    inc = IncrementalTranscriber(
        own, stretches=CHUNKS, repair=False, tail_beam_size=None
    )
    feed_all(inc, answer_pattern(6), pace_s=0.002)
    inc.finish()
    assert set(own.beams) == {None}

    long_tail = Recording()  # no pause for the last 12 s
    inc = IncrementalTranscriber(long_tail, stretches=CHUNKS, repair=False)
    feed_all(inc, speech_like([("talk", 9.0), ("gap", 0.6), ("talk", 12.0)]), pace_s=0.002)
    inc.finish()
    assert inc.stretches[-1].end_s - inc.stretches[-1].start_s > TAIL_BEAM_MAX_S
    assert long_tail.beams[-1] == 1, "a long tail is decoded greedily"

    greedy = Recording()  # the person chose greedy search
    greedy.beam_size = 1
    inc = IncrementalTranscriber(greedy, stretches=CHUNKS, repair=False)
    feed_all(inc, answer_pattern(6), pace_s=0.002)
    inc.finish()
    assert greedy.beams[-1] == 1, "the tail is never wider than the chosen search"


def test_feed_never_blocks_on_a_slow_engine():
    slow = Recording(delay_s=1.0)
    inc = IncrementalTranscriber(slow, stretches=CHUNKS, repair=False)
    slowest = feed_all(inc, answer_pattern(6))
    assert slowest < 0.05
    result = inc.finish(timeout=30)
    assert result.text


def test_engine_errors_surface_in_finish_and_feeding_after_finish_is_refused():
    fake = Recording()
    fake.fail = True
    inc = IncrementalTranscriber(fake, stretches=CHUNKS)
    feed_all(inc, answer_pattern(3))
    with pytest.raises(RuntimeError, match="engine broke"):
        inc.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        inc.feed(np.zeros(160, np.float32))


def test_cancel_stops_without_transcribing_the_rest():
    fake = Recording()
    inc = IncrementalTranscriber(fake, stretches=CHUNKS)
    feed_all(inc, tone(3.0))
    inc.cancel()
    assert fake.calls == []
    assert not any(
        t.name == "incremental-transcriber" and t.is_alive() for t in threading.enumerate()
    )


def test_nothing_fed_gives_an_empty_transcript():
    inc = IncrementalTranscriber(Recording())
    result = inc.finish()
    assert result.text == "" and result.segments == () and result.duration_s == 0.0


def test_rejects_chunk_sizes_beyond_whispers_window():
    with pytest.raises(ValueError):
        StretchOptions(min_chunk_s=10.0, max_chunk_s=40.0)


# -- skipped speech: detection and repair --------------------------------------------


def test_skipped_from_finds_voiced_audio_after_the_last_segment():
    samples = speech_like([("talk", 3.0), ("gap", 0.5), ("talk", 4.0), ("gap", 0.5), ("talk", 3.0)])
    covered = [Segment(0.0, 3.1, "a"), Segment(3.5, 7.6, "b"), Segment(8.0, 11.0, "c")]
    assert skipped_from(samples, covered, RATE) is None
    early = covered[:2]  # the model stopped after the second sentence
    start = skipped_from(samples, early, RATE)
    assert start is not None
    assert 7.6 <= start / RATE <= 8.0, "from the end of the last segment to the next onset"


def test_skipped_from_ignores_lagging_timestamps_and_trailing_noise():
    samples = speech_like([("talk", 6.0), ("gap", 2.0)])
    assert skipped_from(samples, [Segment(0.0, 5.8, "a")], RATE) is None
    samples = speech_like([("talk", 6.0), ("gap", 1.0), ("talk", 0.5), ("gap", 1.0)])
    assert skipped_from(samples, [Segment(0.0, 6.0, "a")], RATE) is None, "a half-second blip"
    assert skipped_from(samples, [], RATE) is None, "no segments: nothing to trust"


def test_skipped_from_distrusts_end_times_that_imply_impossible_speed():
    samples = speech_like([("talk", 10.0)])
    crowded = " ".join(["word"] * 30)  # 30 words "before" 4 s: the end time is wrong
    assert skipped_from(samples, [Segment(0.0, 4.0, crowded)], RATE) is None
    assert skipped_from(samples, [Segment(0.0, 4.0, "a few words only")], RATE) is not None


def test_repeats_spots_a_re_decoding_that_starts_with_words_already_heard():
    heard = "For fine-tuning on a small budget, I would freeze the base model and train"
    assert repeats(heard, "I would freeze the base model, and more")
    assert not repeats(heard, "adapters with LoRA, merged back after training")
    assert not repeats(heard, "the base"), "too short to tell"


def test_too_few_words_compares_the_text_with_the_voiced_time():
    samples = speech_like([("talk", 4.0), ("gap", 1.0), ("talk", 4.0)])
    floor = MIN_REPAIR_VOICED_S
    assert too_few_words(5, samples, RATE, min_voiced_s=floor)
    assert not too_few_words(20, samples, RATE, min_voiced_s=floor)
    assert not too_few_words(0, quiet(8.0), RATE, min_voiced_s=floor), "silence needs no words"
    assert not too_few_words(1, tone(2.0), RATE, min_voiced_s=floor), "too short to judge"


def test_split_point_prefers_the_pause_nearest_the_middle():
    samples = speech_like([("talk", 2.5), ("gap", 0.4), ("talk", 3.0), ("gap", 0.4), ("talk", 4.0)])
    mid = split_point(samples, RATE)
    assert mid is not None and mid / RATE == pytest.approx(5.9 + 0.2, abs=0.06)
    assert split_point(tone(3.0), RATE) is None, "too short to split"
    no_pause = tone(9.0)
    no_pause[int(5.0 * RATE) : int(5.1 * RATE)] *= 0.01
    cut = split_point(no_pause, RATE)
    assert cut is not None and 3.0 <= cut / RATE <= 6.0


class Skipping:
    """A stand-in that, like the real model at times, closes its segment early
    on clips longer than ``keep_s`` and drops the rest; shorter clips come out
    whole. About three words per second of audio."""

    def __init__(self, keep_s: float = 5.0, always: bool = False) -> None:
        self.keep_s = keep_s
        self.always = always
        self.calls: list[tuple[float, str]] = []
        self.beam_size = 5
        self.skips_speech = True

    def transcribe(
        self, clip: AudioClip, hint: str = "", *, context: str = "", beam_size=None
    ) -> Transcript:
        n = len(self.calls)
        self.calls.append((clip.duration_s, context))
        heard = clip.duration_s
        if self.always or heard > self.keep_s:
            heard = min(heard, self.keep_s)
        words = " ".join(f"w{n}x{i}" for i in range(max(1, int(3 * heard))))
        seg = Segment(0.0, round(heard, 3), words)
        return Transcript(words, (seg,), clip.duration_s, "fake", "fake", 0.0, ())


def test_skipped_speech_is_decoded_again_with_the_text_before_it_as_context():
    fake = Skipping(keep_s=5.0)
    inc = IncrementalTranscriber(fake, "LoRA", stretches=CHUNKS)
    samples = answer_pattern(4, talk_s=4.0)  # 17.8 s, a pause every 4.6 s
    feed_all(inc, samples, pace_s=0.002)
    result = inc.finish()

    repaired = [s for s in inc.stretches if s.repairs]
    assert repaired, "the skipped second sentence is decoded again"
    redo = [c for c in fake.calls if c[1].split() and c[1].split()[-1].startswith("w")]
    assert redo, "the re-decode is prompted with the text heard before the skip"
    words = normalise(result.text)
    # every second of speech is represented (about three words each)
    assert len(words) >= 3 * 15
    assert len(set(words)) == len(words), "no text is duplicated"
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert all(
        a.end <= b.start + 1e-6 for a, b in zip(result.segments, result.segments[1:], strict=False)
    )
    assert result.segments[-1].end <= len(samples) / RATE + 1e-6


def test_a_stretch_with_far_too_few_words_is_split_and_decoded_in_halves():
    class Terse(Skipping):
        """Covers the whole clip with a single word when it is long."""

        def transcribe(self, clip, hint="", *, context="", beam_size=None):
            result = super().transcribe(clip, hint, context=context)
            if clip.duration_s <= 6.0:
                return result
            seg = Segment(0.0, clip.duration_s, "um")
            return Transcript("um", (seg,), clip.duration_s, "fake", "fake", 0.0, ())

    fake = Terse(keep_s=30.0)
    inc = IncrementalTranscriber(fake, stretches=CHUNKS)
    samples = speech_like([("talk", 4.0), ("gap", 0.5), ("talk", 4.0), ("gap", 0.6), ("talk", 3.0)])
    feed_all(inc, samples, pace_s=0.002)
    result = inc.finish()
    assert "um" not in normalise(result.text)
    assert len(normalise(result.text)) >= 3 * 10
    assert any(s.repairs for s in inc.stretches)
    assert sum(c[0] for c in fake.calls) > len(samples) / RATE, "some audio was decoded twice"


def test_a_wrong_end_time_does_not_duplicate_text():
    class EarlyEnd(Skipping):
        """Hears everything but stamps the segment as ending after 3 s; a
        piece decoded again repeats the words from the start of that piece."""

        def transcribe(self, clip, hint="", *, context="", beam_size=None):
            result = super().transcribe(clip, hint, context=context)
            return Transcript(
                result.text,
                (Segment(0.0, min(3.0, clip.duration_s), result.text),),
                clip.duration_s,
                "fake",
                "fake",
                0.0,
                (),
            )

    few = EarlyEnd(keep_s=30.0)
    inc = IncrementalTranscriber(few, stretches=CHUNKS)
    samples = answer_pattern(4)
    feed_all(inc, samples, pace_s=0.002)
    result = inc.finish()
    assert not any(s.repairs for s in inc.stretches)
    assert len(few.calls) == len(inc.stretches), "the crowded end time is not trusted"
    assert len(normalise(result.text)) == sum(max(1, int(3 * c[0])) for c in few.calls)


def test_repair_is_bounded_when_the_model_keeps_skipping():
    fake = Skipping(keep_s=1.0, always=True)
    inc = IncrementalTranscriber(fake, stretches=CHUNKS)
    samples = answer_pattern(3)  # 13 s
    feed_all(inc, samples, pace_s=0.002)
    inc.finish()
    # per stretch: the first pass, then at most two levels of repair, two calls each
    assert len(fake.calls) <= len(inc.stretches) * 7
    assert all(s.repairs <= 6 for s in inc.stretches)


def test_repair_can_be_switched_off():
    fake = Skipping(keep_s=5.0)
    inc = IncrementalTranscriber(fake, stretches=CHUNKS, repair=False)
    feed_all(inc, answer_pattern(4), pace_s=0.002)
    inc.finish()
    assert len(fake.calls) == len(inc.stretches)
    assert not any(s.repairs for s in inc.stretches)


def test_repair_is_on_by_default_for_engines_that_skip_speech():
    made = [
        IncrementalTranscriber(Skipping()),
        IncrementalTranscriber(Recording()),
        IncrementalTranscriber(Recording(), repair=True),
    ]
    for inc in made:
        inc.cancel()
    assert [inc.repair for inc in made] == [True, False, True]


def normalise(text: str) -> list[str]:
    return text.lower().split()


# -- the real model -----------------------------------------------------------------


def _words(text: str) -> list[str]:
    return (
        text.lower().replace(",", " ").replace(".", " ").replace("!", " ").replace("?", " ").split()
    )


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_incremental_matches_batch_on_a_spoken_answer(engine, request):
    """Real and synthesised speech (the benchmark's short answer, ~32 s),
    fed five times faster than real time."""
    from tests.benchmarks import feedback_latency as bench

    needs_espeak()
    samples, reference = bench.build_answer(quick=True)
    transcriber = request.getfixturevalue(TINY[engine])

    inc = IncrementalTranscriber(transcriber, bench.HINT)
    feed_all(inc, samples, pace_s=0.02)
    result = inc.finish()
    batch = transcriber.transcribe(AudioClip(samples), bench.HINT)

    assert len(inc.stretches) >= 2
    final = inc.stretches[-1]
    assert final.final and final.end_s - final.start_s < len(samples) / RATE / 2
    text = " ".join(_words(result.text))
    assert "fellow american" in text and "self attention" in text.replace("-", " ")
    assert bench.wer(reference, result.text) <= bench.wer(reference, batch.text) + 0.05
    assert bench.wer(reference, result.text) < 0.3
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert result.segments[-1].start >= final.start_s - 0.01, "timestamps are absolute"


def test_without_a_thread_the_stretches_are_those_of_a_live_run():
    samples = answer_pattern(6)
    live, replay = Recording(), Recording()
    inc = IncrementalTranscriber(live, "LoRA", stretches=CHUNKS, repair=False)
    feed_all(inc, samples, pace_s=0.002)
    expected = inc.finish()

    offline = IncrementalTranscriber(
        replay, "LoRA", stretches=CHUNKS, repair=False, threaded=False
    )
    for i in range(0, len(samples), RATE // 10):
        offline.feed(samples[i : i + RATE // 10])
        if i == RATE * 12:
            assert len(replay.calls) >= 1, "stretches are transcribed while feeding"
    result = offline.finish()
    assert [c[0] for c in replay.calls] == [c[0] for c in live.calls]
    assert result.segments == expected.segments
    assert offline.finish().text == result.text, "finishing twice changes nothing"
    with pytest.raises(RuntimeError):
        offline.feed(samples[:100])
    IncrementalTranscriber(Recording(), threaded=False).cancel()
