"""The follow-up turn with every real part, through the virtual sound card.

The first answer (espeak-ng, played into the virtual microphone, recorded
until silence, transcribed by whisper tiny.en, graded by the real matcher)
leaves out that optimising too long makes the proxy reward rise while true
quality falls. The interviewer's probe for that point is spoken by the
speech engine into the virtual speaker, captured from its monitor and
transcribed back by whisper; the follow-up reply supplies the point; the
stored grade shows it given after the prompt, with the documented share of
its credit added to the answer's own score.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.audio_io import capture_speaker, play_into_mic
from tests.benchmarks.wer import wer

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.slow]

SPEECH_ENGINES = ["pyttsx3", "piper"]
"""The voices the probe is spoken with: the default and the natural one."""

QUESTION = "reward-hacking-rlhf"
ANSWER = (
    "Reward hacking is when the policy exploits flaws in the learned reward model. "
    "The reward model is only a proxy for human preferences, so the policy finds outputs "
    "that score highly without being better, for example very long or flattering answers."
)
REPLY = (
    "If you optimise against it for too long, the proxy reward keeps going up "
    "while the true quality goes down. That is Goodhart's law, over optimisation."
)


def _render(tmp_path: Path, text: str, stem: str) -> Path:
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing: the set-up command installs it")
    out = tmp_path / f"{stem}.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(out), text], check=True)
    return out


def _say_into_mic(engine, wav: Path) -> None:
    """Record one answer: start, play ``wav`` into the microphone, end on silence."""
    engine.start_answer()
    time.sleep(0.3)
    player = play_into_mic(wav)
    assert player.wait(120) == 0, player.stderr.read() if player.stderr else ""
    assert engine.answer_ended(timeout=10), "the recorder did not end the answer on silence"
    recording = engine.stop_answer()
    assert recording.stopped_by == "silence" and recording.speech_detected


@pytest.mark.parametrize("speech_engine", SPEECH_ENGINES)
def test_a_spoken_follow_up_recovers_the_point_left_out(
    vaudio, transcriber, tmp_path, speech_engine
):
    import questions
    from audio.recorder import Recorder, RecorderSettings
    from audio.tts import make_speaker
    from interviewer.config import Settings
    from interviewer.session.engine import Ports, SessionEngine
    from interviewer.session.followup import attempt_grade
    from interviewer.session.model import SessionConfig
    from interviewer.session.store import Store

    bank = questions.default_bank()
    q = bank.get(QUESTION)
    left_out = q.key_points[1]
    store = Store()
    ports = Ports(
        speaker=make_speaker(speech_engine, tmp_path / "speech", rate=170),
        recorder=Recorder(RecorderSettings(silence_timeout_s=1.5, max_duration_s=90)),
        transcriber=transcriber,
    )
    settings = Settings(followups=1, followup_share=0.5)
    engine = SessionEngine(
        bank, store, ports, settings, SessionConfig(mode="practice", count=1, question_ids=(q.id,))
    )
    engine.start()
    assert engine.next_question() == q
    assert engine.ask() is None

    # 1. the answer, spoken, leaves the over-optimisation point out
    _say_into_mic(engine, _render(tmp_path, ANSWER, "answer"))
    said = engine.transcribe().text
    own = engine.grade()
    assert own.score is not None, said
    assert own.key_points[1].status != "covered", (said, own.to_dict())

    # 2. the interviewer probes it: the probe is heard from the virtual speaker
    probe = engine.followup_offer()
    assert probe is not None and probe.key_point == left_out.text, (probe, own.to_dict())
    engine.begin_followup()
    with capture_speaker() as captured:
        assert engine.ask() is None  # spoken, no notice
    (heard,) = captured
    back = transcriber.transcribe(heard).text
    assert wer(left_out.probe, back) <= 0.35, back

    # 3. the reply, spoken, supplies the point
    _say_into_mic(engine, _render(tmp_path, REPLY, "reply"))
    replied = engine.transcribe().text
    assert "quality" in replied.lower(), replied
    reply = engine.grade()
    assert reply.key_points[1].status in ("covered", "partial"), (replied, reply.to_dict())

    # 4. stored: the point is recovered after the prompt, at half its credit
    attempt = store.get_attempt(engine.attempt.id)
    (followup,) = store.followups(attempt.id)
    assert (followup.state, followup.prompt, followup.transcript) == (
        "graded", left_out.probe, replied,
    )
    assert followup.audio_path and Path(followup.audio_path).exists()
    assert followup.grade["before"] != "covered" and followup.grade["recovered"] > 0
    worth = left_out.weight / sum(k.weight for k in q.key_points)
    assert followup.grade["recovered"] <= 0.5 * worth + 1e-4
    assert attempt.unprompted_score == pytest.approx(own.score)
    assert attempt.score == pytest.approx(own.score + followup.grade["recovered"], abs=1e-4)
    grade = attempt_grade(store, q, attempt)
    point = grade.points[1]
    assert (point.given, point.probe, point.reply) == ("prompted", left_out.probe, replied)
    summary = engine.finish()
    assert summary.results[0].score == pytest.approx(attempt.score)
