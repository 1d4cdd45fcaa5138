"""The practice / rapid / review commands: arguments, session configs and the
real ports loader (lazy, degrading to one-line notices)."""

from __future__ import annotations

import pytest

from interviewer import compose
from interviewer.cli import build_parser
from interviewer.config import Settings


class _Bank:
    name = "llm"


def _args(*argv: str):
    return build_parser().parse_args(list(argv))


def test_practice_and_rapid_arguments_become_session_configs():
    settings = Settings(session_count=5, rapid_count=10, rapid_answer_s=45.0)
    args = _args("practice", "--count", "3", "--topic", "rlhf", "--topic", "rag",
                 "--seed", "4", "--typed")
    assert args.typed and args._module.NAME == "practice"
    cfg = compose.session_config(args, "practice", settings, _Bank())
    assert (cfg.mode, cfg.count, cfg.topics, cfg.seed, cfg.time_limit_s) == (
        "practice", 3, ("rlhf", "rag"), 4, None)

    cfg = compose.session_config(_args("rapid"), "rapid", settings, _Bank())
    assert (cfg.mode, cfg.count, cfg.time_limit_s) == ("rapid", 10, 45.0)
    cfg = compose.session_config(_args("rapid", "--count", "4", "--seconds", "20"), "rapid",
                                  settings, _Bank())
    assert (cfg.count, cfg.time_limit_s) == (4, 20.0)
    assert _args("review")._module.NAME == "review"


def test_typed_ports_need_no_audio_at_all():
    steps: list[tuple[str, float]] = []
    loader = compose.real_ports(Settings(), typed=True)
    loaded = loader(lambda step, fraction: steps.append((step, fraction)))
    ports = loaded.ports
    assert ports.speaker is None and ports.recorder is None and ports.transcriber is None
    assert ports.grader is not None and loaded.notices == ()
    assert steps[-1][1] == 1.0


@pytest.mark.slow
@pytest.mark.e2e
def test_real_ports_load_or_explain_in_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    steps: list[tuple[str, float]] = []
    loaded = compose.real_ports(Settings(), typed=False)(lambda s, f: steps.append((s, f)))
    ports = loaded.ports
    # the bundled recogniser loads offline; speech and microphone depend on the machine
    assert ports.transcriber is not None, loaded.notices
    assert ports.transcriber.loaded
    for notice in loaded.notices:
        assert "\n" not in notice and notice.split(" unavailable: ")[0] in (
            "speech output", "microphone")
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("engine, rendered", [("piper", True), ("pyttsx3", False)])
def test_piper_renders_the_bank_ahead_once_the_grader_is_warm(monkeypatch, engine, rendered):
    from tests.session.fakes import FakeSpeaker, sample_bank

    speaker = FakeSpeaker()
    monkeypatch.setattr(compose, "_speaker", lambda settings: speaker)
    monkeypatch.setattr(compose, "_transcriber", lambda settings, progress: None)
    monkeypatch.setattr(compose, "_warm_grader", lambda: None)
    monkeypatch.setattr(compose, "_prepare_rubrics", lambda bank: None)
    bank = sample_bank()
    loader = compose.real_ports(Settings(speech_engine=engine), typed=False, bank=bank)
    assert loader(lambda step, fraction: None).ports.speaker is speaker
    assert speaker.prepared == []  # nothing competes with loading the models
    assert loader.warm_up is not None and loader.warm_up(lambda step, fraction: None) == ()
    expected = [q.spoken_text for q in bank.questions] if rendered else []
    assert speaker.prepared == expected
