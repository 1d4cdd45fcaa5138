"""Case 4: SIGKILL and Ctrl-C while the real engine speaks, records,
transcribes and saves. A driver process runs one question through the real
speaker, recorder, transcriber and store on the virtual sound card; the test
signals it the moment it enters a phase and then checks that nothing already
recorded is lost and that a fresh engine recovers it."""

from __future__ import annotations

import signal
import time

import pytest

from tests.faults.conftest import QUESTION, Driver
from tests.faults.helpers import trimmed_jfk

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.slow]

CASES = [
    ("speaking", signal.SIGKILL),
    ("speaking", signal.SIGINT),
    ("recording", signal.SIGKILL),
    ("recording", signal.SIGINT),
    ("transcribing", signal.SIGKILL),
    ("transcribing", signal.SIGINT),
    ("saving", signal.SIGKILL),
    ("saving", signal.SIGINT),
]


def _run_until(phase, sig, card, env, bank_file, tmp_path, drivers) -> Driver:
    args = ["--bank", str(bank_file), "--question", QUESTION, "--max-answer", "20", "--silence", "1.0"]
    if phase != "speaking":
        args.append("--no-speak")
    if phase == "saving":
        args += ["--hold-save", "5"]
    d = Driver("session_driver.py", args, card.env(env))
    drivers.append(d)
    d.wait_for("PHASE ready", timeout=240)
    if phase == "speaking":
        d.wait_for("PHASE speaking")
        time.sleep(0.8)  # the question is being rendered / played
    else:
        d.wait_for("PHASE recording")
        card.feed(trimmed_jfk(tmp_path, 7.5 if phase == "recording" else 3.5))
        if phase == "recording":
            time.sleep(3.0)
        else:
            d.wait_for(f"PHASE {phase}", timeout=60)
            time.sleep(0.2)
    assert d.proc.poll() is None, "the driver ended before the signal"
    d.signal(sig)
    return d


@pytest.mark.parametrize(("phase", "sig"), CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_signal_during_phase(phase, sig, fault_card, sub_env, bank_file, tmp_path, drivers, whisper_tiny):
    d = _run_until(phase, sig, fault_card, sub_env, bank_file, tmp_path, drivers)
    code, out, err = d.finish(timeout=60)
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 130, (code, out, err)
        assert "Traceback" not in err, err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "interrupted" in lines[0], err
    assert "RESULT" not in out

    import questions
    from audio.clip import read_audio
    from interviewer.session.engine import Ports, SessionEngine
    from interviewer.session.store import Store

    with Store() as store:  # opens: not corrupt, not locked
        assert len(store.sessions()) == 1
        attempts = store.attempts()
        if phase == "speaking":
            assert attempts == [], d.lines  # nothing was recorded yet: nothing to lose
            return
        assert len(attempts) == 1
        a = attempts[0]
        expected = {"recording": ("recording", "recorded"), "transcribing": ("recorded",),
                    "saving": ("transcribed",)}[phase]
        if sig == signal.SIGINT and phase == "recording":
            expected = ("recorded",)  # Ctrl-C stops the recorder cleanly
        assert a.state in expected, a
        clip = read_audio(a.audio_path)
        assert clip.duration_s > 2.0
        assert clip.rms() > 0.005  # speech, not an empty file
        if phase == "saving":
            assert "americans" in (a.transcript or "").lower(), a.transcript
            return  # see test_ungraded_transcript_is_offered_for_recovery
        bank = questions.load_bank(bank_file)
        engine = SessionEngine(bank, store, Ports(transcriber=whisper_tiny))
        listed = engine.recover_interrupted()
        assert [x.id for x in listed] == [a.id]
        done = engine.recover(a.id)
        assert done.state == "graded"
        text = (done.transcript or "").lower()
        assert "americans" in text or "country" in text, text
        assert done.score is not None and done.score > 0
        assert store.interrupted_attempts() == []


def test_ungraded_transcript_is_offered_for_recovery(tmp_path, bank_file):
    """A kill while the grade is being saved leaves the attempt 'transcribed'
    with its transcript and audio; it must be offered and graded next time."""
    import questions
    from audio.clip import AudioClip, write_wav
    from interviewer.session.engine import Ports, SessionEngine
    from interviewer.session.store import Store
    from tests.faults.helpers import jfk_samples

    bank = questions.load_bank(bank_file)
    with Store() as store:
        a = store.begin_attempt(QUESTION, bank=bank.name)
        write_wav(a.audio_path, AudioClip(jfk_samples()))
        store.update_attempt(a.id, state="transcribed", transcript="ask what you can do for your country")
        engine = SessionEngine(bank, store, Ports())
        assert [x.id for x in engine.recover_interrupted()] == [a.id]
        assert engine.recover(a.id).state == "graded"
