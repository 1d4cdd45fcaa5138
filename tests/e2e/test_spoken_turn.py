"""One full spoken interview turn with every real part.

The question is spoken by pyttsx3 (espeak-ng) into the virtual speaker and
captured there; an answer is played into the virtual microphone; the app's
recorder records it and ends it on silence; whisper tiny.en transcribes it;
the matcher grades it; the SQLite row and the audio file exist.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks.wer import wer
from tests.conftest import TEST_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.slow]

ANSWER = (
    "Reward hacking is when the policy exploits flaws in the learned reward model. "
    "The reward model is only a proxy for human preferences, so the policy finds outputs "
    "that score highly without being better, for example very long or flattering answers. "
    "To limit it we add a K L penalty that keeps the policy close to the reference model, "
    "and we retrain the reward model on fresh human comparisons."
)


@pytest.fixture
def spoken_answer(tmp_path) -> Path:
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is missing: the set-up command installs it")
    out = tmp_path / "answer.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(out), ANSWER], check=True)
    return out


def test_one_spoken_turn(vaudio, transcriber, tmp_path, spoken_answer):
    import questions
    from audio.clip import read_audio
    from audio.recorder import Recorder, RecorderSettings
    from audio.tts import Speaker
    from interviewer import paths
    from interviewer.session.engine import Ports, SessionEngine
    from interviewer.session.model import Phase, SessionConfig
    from interviewer.session.store import Store

    bank = questions.default_bank()
    q = bank.get("reward-hacking-rlhf")
    store = Store()
    ports = Ports(
        speaker=Speaker(cache_dir=tmp_path / "speech", rate=190),
        recorder=Recorder(RecorderSettings(silence_timeout_s=1.5, max_duration_s=90)),
        transcriber=transcriber,
    )
    engine = SessionEngine(
        bank, store, ports, config=SessionConfig(mode="practice", count=1, question_ids=(q.id,))
    )
    engine.start()
    assert engine.next_question() == q

    # 1. the question is heard: capture the virtual speaker while it is spoken
    captured = tmp_path / "speaker.raw"
    with captured.open("wb") as fh:
        parec = subprocess.Popen(
            ["parec", "--device=vspeaker.monitor", "--raw", "--rate=16000", "--channels=1",
             "--format=s16le", "--latency-msec=20"],
            stdout=fh,
        )
        try:
            time.sleep(0.3)
            assert engine.ask() is None  # no notice: it was spoken
            time.sleep(0.5)
        finally:
            parec.terminate()
            parec.wait(5)
    heard = np.frombuffer(captured.read_bytes(), dtype="<i2").astype(np.float32) / 32768
    assert np.sqrt(np.mean(heard**2)) > 0.01, "nothing reached the virtual speaker"
    from audio.clip import AudioClip

    back = transcriber.transcribe(AudioClip(heard))
    assert wer(q.spoken_text, back.text) <= 0.35, back.text

    # 2. the answer is spoken into the microphone and recorded until silence
    attempt = engine.start_answer()
    assert engine.phase == Phase.LISTENING
    row = store.get_attempt(attempt.id)
    assert row.state == "recording"
    time.sleep(0.3)
    subprocess.run(["paplay", "--device=vmic_feed", str(spoken_answer)], check=True, timeout=120)
    t_end = time.monotonic()
    assert engine.answer_ended(timeout=10), "the recorder did not end the answer on silence"
    stopped_after = time.monotonic() - t_end
    rec = engine.stop_answer()
    assert rec.stopped_by == "silence" and rec.speech_detected
    assert stopped_after < 1.5 + 1.5, stopped_after

    # 3. transcribed offline, graded against the rubric
    transcript = engine.transcribe()
    said = transcript.text.lower()
    assert "reward" in said and "policy" in said, transcript.text
    assessment = engine.grade()
    assert assessment.score is not None
    assert assessment.percent >= 50, assessment.to_dict()
    assert any(k.status == "covered" for k in assessment.key_points)

    # 4. kept: the row in the SQLite file, the audio beside it
    final = store.get_attempt(attempt.id)
    assert final.state == "graded"
    audio_file = Path(final.audio_path)
    assert audio_file.exists() and audio_file.parent == paths.audio_dir()
    clip = read_audio(audio_file)
    source = read_audio(spoken_answer)
    assert clip.duration_s >= source.duration_s - 0.5
    with sqlite3.connect(paths.database_path()) as db:
        state, score, text = db.execute(
            "select state, score, transcript from attempts where id = ?", (attempt.id,)
        ).fetchone()
    assert state == "graded" and score == pytest.approx(assessment.score)
    assert text == transcript.text
    summary = engine.finish()
    assert len(summary.results) == 1


def test_jfk_through_the_microphone(vaudio, transcriber, tmp_path):
    """Real human speech, not synthetic: recorded from the virtual mic and
    transcribed with the key phrases intact."""
    from audio.clip import read_audio, write_wav
    from audio.recorder import Recorder, RecorderSettings

    # paplay's FLAC path has been seen to play zeros part-way: feed a WAV
    source = write_wav(tmp_path / "jfk-source.wav", read_audio(TEST_DATA / "jfk.flac"))
    rec = Recorder(RecorderSettings(silence_timeout_s=1.5, max_duration_s=60))
    out = tmp_path / "jfk.wav"
    rec.start(out)
    time.sleep(0.3)
    subprocess.run(["paplay", "--device=vmic_feed", str(source)], check=True, timeout=60)
    rec.wait(timeout=8)
    result = rec.stop()
    assert result.speech_detected
    text = transcriber.transcribe(read_audio(out)).text.lower()
    assert "fellow americans" in text and "your country" in text, text
