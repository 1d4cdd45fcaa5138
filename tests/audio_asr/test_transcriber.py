"""The transcriber: real model on real and synthesised speech, the
hallucination guards, and the one-line errors."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from audio.clip import SAMPLE_RATE, AudioClip, read_audio
from audio.errors import ModelUnavailable
from audio.results import Transcript
from audio.transcriber import (
    FasterWhisperTranscriber,
    RawSegment,
    WhisperTranscriber,
    _LazyModel,
    compose_prompt,
    filter_segments,
    glossary_prompt,
    is_prompt_echo,
    is_silence_phrase,
    make_transcriber,
)
from tests.conftest import ENGINES, TEST_DATA, TINY, needs_espeak

PROMPT_TERMS = ["lora", "peft", "rlhf", "quantization"]
UNSAID_HINT = "LoRA, PEFT, RLHF, quantization"


@pytest.fixture(scope="module")
def jfk() -> AudioClip:
    return read_audio(TEST_DATA / "jfk.flac")


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    """Each engine's loaded tiny.en (shared with the whole run)."""
    return request.getfixturevalue(TINY[request.param])


@pytest.fixture(scope="module")
def ow(whisper_tiny) -> WhisperTranscriber:
    return whisper_tiny


@pytest.fixture(scope="module")
def jfk_heard(engine, jfk) -> Transcript:
    """JFK transcribed once per engine, prompted with terms he never said."""
    return engine.transcribe(jfk, hint=UNSAID_HINT)


def _words(text: str) -> str:
    return " ".join(text.lower().replace(",", " ").replace(".", " ").split())


def _noise(rms: float, seconds: float, seed: int = 0) -> AudioClip:
    rng = np.random.default_rng(seed)
    return AudioClip(rng.normal(0.0, rms, int(seconds * SAMPLE_RATE)).astype(np.float32))


# -- real model ------------------------------------------------------------------


@pytest.mark.slow
def test_jfk_is_transcribed_by_both_engines(engine, jfk, jfk_heard):
    result = jfk_heard
    text = _words(result.text)
    assert "fellow americans" in text
    assert "ask not" in text
    assert "your country" in text
    assert result.engine == engine.engine_name and result.model == "tiny.en"
    assert result.duration_s == pytest.approx(jfk.duration_s)
    assert result.segments, "segments with timestamps are kept"
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert all(0.0 <= s.start < s.end <= jfk.duration_s + 0.5 for s in result.segments)
    assert result.rejected == ()


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip",
    [
        AudioClip(np.zeros(5 * SAMPLE_RATE, np.float32)),
        _noise(0.002, 5.0),
    ],
    ids=["digital-silence", "faint-noise"],
)
def test_silence_never_reaches_the_model(clip, model_cache_dir):
    fresh = make_transcriber("openai-whisper", cache_dir=model_cache_dir)
    result = fresh.transcribe(clip, hint="LoRA, PEFT, RLHF")
    assert result.text == "" and result.segments == ()
    assert not fresh.loaded, "the model must not even be loaded for silence"


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip",
    [
        _noise(0.02, 6.0, seed=1),
        _noise(0.05, 8.0, seed=2),
        AudioClip(
            (0.03 * np.sin(2 * np.pi * 50 * np.arange(5 * SAMPLE_RATE) / SAMPLE_RATE)).astype(
                np.float32
            )
        ),
    ],
    ids=["hiss", "loud-hiss", "mains-hum"],
)
def test_noise_above_the_gate_gives_no_words(engine, clip):
    result = engine.transcribe(clip, hint="LoRA, PEFT, RLHF, quantization")
    assert result.text == "", f"hallucinated: {result.text!r}"


@pytest.mark.slow
def test_the_prompt_does_not_put_words_in_the_speakers_mouth(jfk_heard):
    result = jfk_heard
    text = _words(result.text)
    assert "fellow americans" in text
    for term in PROMPT_TERMS:
        assert term not in text, f"{term!r} was never said: {result.text!r}"


@pytest.mark.slow
def test_hint_helps_domain_terms(engine, tmp_path):
    needs_espeak()
    wav = tmp_path / "domain.wav"
    sentence = "We fine tune the model with LoRA adapters, then align it with RLHF, and shrink it with quantization."
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), sentence], check=True)
    clip = read_audio(wav)
    terms = ["lora", "rlhf", "quantization"]

    def found(text: str) -> int:
        return sum(term in text.lower() for term in terms)

    plain = engine.transcribe(clip)
    hinted = engine.transcribe(clip, hint="LoRA, RLHF, quantization, fine-tuning")
    assert found(hinted.text) >= found(plain.text)
    assert found(hinted.text) >= 2, hinted.text


@pytest.mark.slow
def test_long_answer_is_cut_at_pauses_and_timestamps_are_absolute(ow, jfk):
    gap = np.zeros(int(0.8 * SAMPLE_RATE), np.float32)
    long = AudioClip(np.concatenate([jfk.samples, gap, jfk.samples, gap, jfk.samples]))
    assert long.duration_s > 30
    result = ow.transcribe(long, hint="interview answer")
    assert _words(result.text).count("fellow americans") == 3
    assert result.segments[-1].end > 30.0
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)


@pytest.mark.slow
def test_offline_base_model_says_what_to_do(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    transcriber = make_transcriber(
        "openai-whisper", model="base.en", cache_dir=tmp_path, download_root=tmp_path / "whisper"
    )
    with pytest.raises(ModelUnavailable) as err:
        transcriber.load()
    message = str(err.value)
    assert "base.en" in message
    assert "connect to the internet once" in message
    assert "tiny.en" in message and "offline" in message
    assert "\n" not in message
    assert not list((tmp_path / "whisper").glob("*.pt")), "no partial download left behind"


# -- errors and the factory ------------------------------------------------------


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(ModelUnavailable, match="choose one of: openai-whisper, faster-whisper"):
        make_transcriber("kaldi", cache_dir=".")


def test_factory_picks_the_engine_and_loads_nothing(tmp_path):
    ow = make_transcriber("openai-whisper", threads=3, cache_dir=tmp_path)
    fw = make_transcriber("faster-whisper", cache_dir=tmp_path)
    assert isinstance(ow, WhisperTranscriber) and ow.threads == 3 and not ow.loaded
    assert isinstance(fw, FasterWhisperTranscriber) and fw.compute_type == "int8" and not fw.loaded


def test_missing_faster_whisper_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(ModelUnavailable, match="pip install 'faster-whisper"):
        FasterWhisperTranscriber().load()


def test_importing_the_module_stays_light():
    code = (
        "import sys, audio.transcriber, audio.incremental, audio.weights; "
        "heavy = {'torch', 'whisper', 'faster_whisper', 'ctranslate2'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the guards, on engine output we control ---------------------------------------


class _Scripted(_LazyModel):
    """An engine that returns prepared segments (unit tests of the flow)."""

    engine_name = "scripted"

    def __init__(self, segments: list[RawSegment]) -> None:
        super().__init__()
        self.segments = segments
        self.when_prompted: list[RawSegment] | None = None
        self.prompts: list[str] = []
        self.beams: list[int] = []

    def _load(self, progress):
        return object()

    def _run(self, samples, prompt, beam):
        self.prompts.append(prompt)
        self.beams.append(beam)
        if prompt and self.when_prompted is not None:
            return list(self.when_prompted)
        return list(self.segments)


def _speech_then_silence() -> np.ndarray:
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    loud = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.concatenate([loud, np.full(3 * SAMPLE_RATE, 1e-4, np.float32)])


def test_guards_drop_hallucinations_and_report_them():
    samples = _speech_then_silence()
    raw = [
        RawSegment(0.0, 3.0, " We use LoRA adapters.", 0.01, -0.3),
        RawSegment(3.0, 6.0, " Thank you for watching.", 0.2, -0.5),
        RawSegment(3.0, 6.0, " Subtitles by the Amara.org community", 0.3, -0.6),
        RawSegment(3.0, 6.0, " you", 0.4, -0.7),
        RawSegment(0.0, 3.0, " mumble", 0.9, -1.4),
        RawSegment(0.0, 3.0, " LoRA, PEFT, RLHF", 0.1, -0.2),
    ]
    kept, rejected = filter_segments(raw, samples, prompt="LoRA, PEFT, RLHF, quantization")
    assert [s.text for s in kept] == ["We use LoRA adapters."]
    assert len(rejected) == 5
    assert any("no speech" in r for r in rejected)
    assert any("echo of the prompt" in r for r in rejected)
    assert sum("filler over silence" in r for r in rejected) == 3


def test_filler_words_over_real_speech_are_kept():
    samples = _speech_then_silence()
    raw = [
        RawSegment(0.0, 3.0, " Thank you.", 0.05, -0.2),
        RawSegment(0.5, 2.5, " you", 0.05, -0.2),
    ]
    kept, rejected = filter_segments(raw, samples)
    assert [s.text for s in kept] == ["Thank you.", "you"]
    assert rejected == []


def test_a_stock_phrase_the_model_marks_as_no_speech_is_dropped_over_loud_noise():
    """Over mains hum (loud, so not "quiet"), faster-whisper's beam search gave
    "You" with no-speech probability 0.93 and log-probability -0.99, just
    above the general threshold; a stock phrase with that no-speech mark goes."""
    samples = _speech_then_silence()
    raw = [
        RawSegment(0.0, 2.0, " You", 0.93, -0.99),
        RawSegment(0.0, 2.0, " Attention is all you need.", 0.93, -0.5),
        RawSegment(0.0, 5.0, " . . . .", 0.92, -0.97),
    ]
    kept, rejected = filter_segments(raw, samples)
    assert [s.text for s in kept] == ["Attention is all you need."]
    assert "no speech" in rejected[0]
    assert "no words" in rejected[1]


def test_echo_and_phrase_rules():
    assert is_prompt_echo("LoRA, PEFT, RLHF.", "Terms: LoRA, PEFT, RLHF, quantization")
    assert not is_prompt_echo("LoRA", "LoRA, PEFT")  # a single term may well be spoken
    assert not is_prompt_echo("we used LoRA and PEFT", "LoRA, PEFT, RLHF")
    assert is_silence_phrase("Thanks for watching!")
    assert not is_silence_phrase("Thanks to attention, order matters.")


def test_transcript_flow_with_a_scripted_engine():
    samples = _speech_then_silence()
    said = " attention lets every token look at the others"
    engine = _Scripted(
        [RawSegment(0.0, 3.0, said, 0.0, -0.1), RawSegment(3.0, 6.0, " you", 0.1, -0.5)]
    )
    result = engine.transcribe(AudioClip(samples), hint="  attention  ")
    assert isinstance(result, Transcript)
    assert result.text == said.strip()
    assert len(result.rejected) == 1 and result.rejected[0].startswith("you")
    assert engine.prompts == ["Glossary: attention."]
    assert result.engine == "scripted" and result.elapsed_s >= 0


def test_compose_prompt_keeps_the_hint_first_and_the_context_short():
    context = " ".join(f"w{i}" for i in range(100))
    prompt = compose_prompt("LoRA, PEFT", context)
    assert prompt.startswith("LoRA, PEFT w60 ")
    assert prompt.endswith("w99")
    assert compose_prompt("", "") == ""


def test_a_prompted_pass_that_skips_speech_is_redone_without_the_prompt():
    samples = _speech_then_silence()
    full = " so the adapters are merged back into the weights after training"
    engine = _Scripted([RawSegment(0.0, 3.0, full, 0.0, -0.2)])
    engine.when_prompted = [RawSegment(0.0, 3.0, " LoRA", 0.0, -0.2)]
    result = engine.transcribe(AudioClip(samples), hint="LoRA")
    assert result.text == full.strip()
    assert engine.prompts == ["Glossary: LoRA.", ""]


def test_context_continues_the_prompt_but_is_not_treated_as_an_echo():
    samples = _speech_then_silence()
    repeated = " ask what you can do for your country"
    engine = _Scripted([RawSegment(0.0, 3.0, repeated, 0.0, -0.2)])
    result = engine.transcribe(
        AudioClip(samples), hint="duty", context="and so ask what you can do for your country"
    )
    assert result.text == repeated.strip()
    assert engine.prompts[0].startswith("Glossary: duty. and so ask")


def test_the_hint_becomes_a_glossary_sentence():
    assert glossary_prompt("LoRA, PEFT, RLHF") == "Glossary: LoRA; PEFT; RLHF."
    assert glossary_prompt("  attention  ") == "Glossary: attention."
    assert glossary_prompt("top-k; top-p,\nnucleus sampling.") == (
        "Glossary: top-k; top-p; nucleus sampling."
    )
    once = glossary_prompt("KL penalty, PPO")
    assert glossary_prompt(once) == once
    assert glossary_prompt("") == "" and glossary_prompt(" , ") == ""


def test_an_echo_of_the_glossary_is_still_rejected():
    samples = _speech_then_silence()
    engine = _Scripted(
        [
            RawSegment(0.0, 3.0, " LoRA, PEFT, RLHF.", 0.1, -0.2),
            RawSegment(0.0, 3.0, " we trained adapters", 0.0, -0.2),
        ]
    )
    result = engine.transcribe(AudioClip(samples), hint="LoRA, PEFT, RLHF, quantization")
    assert result.text == "we trained adapters"
    assert any("echo of the prompt" in r for r in result.rejected)


# -- the hint must not invent terms (answers that open with the question's words) --

LEAK_CASES = [
    # (question, spoken answer, hint terms that were never said); with the bare
    # comma-list prompt these came out as "Mask, softmax, forward attention, ..."
    # and "top-k, min-p, min-p, most likely tokens ...".
    (
        "attention-masks-purpose",
        "Attention masks are masks for attention, and they're important in transformer "
        "models because transformer models use attention, so the masks are applied to the "
        "attention in the transformer.",
    ),
    (
        "top-k-vs-top-p-sampling",
        "Um, top k means only the k most likely tokens are allowed, a fixed cutoff, and you "
        "renormalize over those. Top p, also called nucleus, uses a cumulative threshold.",
    ),
    (
        "contrastive-learning-representations",
        "Contrastive learning improves LLM representations by learning with contrast, so the "
        "representations of the LLM become improved and better contrasted than the "
        "representations before.",
    ),
]


def _flat(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("-", " ")))


def _unsaid_terms(hint_terms, said: str, heard: str) -> list[str]:
    said_f, heard_f = f" {_flat(said)} ", f" {_flat(heard)} "
    out = []
    for term in hint_terms:
        t = _flat(term)
        if not t:
            continue
        stem = t.rstrip("s")
        if (
            f" {t} " in heard_f
            and f" {stem}" not in said_f
            and t.replace(" ", "") not in said_f.replace(" ", "")
        ):
            out.append(term)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("qid,said", LEAK_CASES, ids=[c[0] for c in LEAK_CASES])
def test_the_hint_invents_no_terms(ow, tmp_path, qid, said):
    needs_espeak()
    import questions

    q = questions.default_bank().get(qid)
    wav = tmp_path / "answer.wav"
    subprocess.run(["espeak-ng", "-s", "160", "-w", str(wav), said], check=True)
    heard = ow.transcribe(read_audio(wav), hint=q.recogniser_hint()).text
    invented = _unsaid_terms(q.terms, said, heard)
    assert not invented, f"hint terms never said: {invented} in {heard!r}"
    said_words, heard_words = _flat(said).split(), _flat(heard).split()
    assert heard_words and heard_words[0] in said_words[:2], (
        f"the opening words were replaced: {heard!r}"
    )


def test_temperature_fallback_is_reproducible():
    """Whisper samples when greedy decoding looks degenerate; the generator is
    seeded on every call, so the same audio gives the same transcript."""
    import torch

    class Sampling:
        def transcribe(self, samples, **options):
            draw = int(torch.randint(0, 10**6, (1,)))
            return {"segments": [{"start": 0.0, "end": 1.0, "text": f" word{draw}"}]}

    engine = WhisperTranscriber(cache_dir=".")
    engine._model = Sampling()
    samples = np.zeros(SAMPLE_RATE, np.float32)
    first = [s.text for s in engine._run(samples, "", 1)]
    torch.rand(100)  # anything else drawing from the generator in between
    again = [s.text for s in engine._run(samples, "", 1)]
    assert first == again


def test_the_beam_width_reaches_both_engines_and_a_call_may_override_it():
    speech = _speech_then_silence()
    scripted = _Scripted([RawSegment(0.0, 3.0, " We use LoRA adapters.", 0.01, -0.3)])
    assert scripted.beam_size == 5
    scripted.transcribe(AudioClip(speech))
    scripted.transcribe(AudioClip(speech), beam_size=2)
    assert scripted.beams == [5, 2]
    with pytest.raises(ValueError, match="beam size"):
        scripted.transcribe(AudioClip(speech), beam_size=0)
    with pytest.raises(ValueError, match="beam size"):
        make_transcriber("openai-whisper", cache_dir=".", beam_size=40)

    class Options:
        def __init__(self, result):
            self.result, self.seen = result, []

        def transcribe(self, samples, **options):
            self.seen.append(options)
            return self.result

    ow = make_transcriber("openai-whisper", cache_dir=".", beam_size=3)
    ow._model = Options({"segments": []})
    list(ow._run(speech, "", 3))
    list(ow._run(speech, "", 1))
    # openai-whisper: greedy search is beam_size=None (a beam of 1 would still search)
    assert [o["beam_size"] for o in ow._model.seen] == [3, None]

    fw = FasterWhisperTranscriber(beam_size=4)
    fw._model = Options(([], None))
    list(fw._run(speech, "", 4))
    assert fw._model.seen[0]["beam_size"] == 4 and fw._model.seen[0]["best_of"] == 1
