"""Case 5: recovery for real, repeated. The real recorder takes the spoken
clip from the virtual microphone and is killed with SIGKILL at seeded random
moments; each time the attempt is offered on restart, its audio holds all
but at most about the last second of what had been said, matches the source,
and is transcribed and graded."""

from __future__ import annotations

import random
import signal
import time

import numpy as np
import pytest

from tests.faults.conftest import QUESTION, Driver
from tests.faults.helpers import best_alignment, jfk_samples, trimmed_jfk

pytestmark = [pytest.mark.e2e, pytest.mark.audio, pytest.mark.slow]

SEED = 20240517
MOMENTS = [round(random.Random(SEED).uniform(2.0, 9.5), 2) for _ in range(1)] + [
    round(m, 2) for m in random.Random(SEED + 1).sample([2.6, 4.1, 5.7, 7.3, 9.0], 2)
]


@pytest.mark.parametrize("kill_after", MOMENTS)
def test_sigkill_while_recording_then_recover(kill_after, fault_card, sub_env, bank_file, drivers,
                                              whisper_tiny, tmp_path):
    d = Driver(
        "session_driver.py",
        ["--bank", str(bank_file), "--question", QUESTION, "--no-speak", "--lazy-model",
         "--silence", "6", "--max-answer", "40"],
        fault_card.env(sub_env),
    )
    drivers.append(d)
    d.wait_for("PHASE recording", timeout=120)
    fed_at = time.monotonic()
    fault_card.feed(trimmed_jfk(tmp_path, 11.0))  # a WAV: paplay's FLAC path was seen to stall
    time.sleep(kill_after)
    d.signal(signal.SIGKILL)
    fed_s = time.monotonic() - fed_at
    code, _out, _err = d.finish(timeout=30)
    assert code == -signal.SIGKILL

    import questions
    from audio.clip import read_audio
    from interviewer.session.engine import Ports, SessionEngine
    from interviewer.session.store import Store

    with Store() as store:
        bank = questions.load_bank(bank_file)
        engine = SessionEngine(bank, store, Ports(transcriber=whisper_tiny))
        listed = engine.recover_interrupted()
        assert len(listed) == 1 and listed[0].state == "recording"
        clip = read_audio(listed[0].audio_path)
        # all but about the last second of what had been fed is on disk
        assert clip.duration_s >= fed_s - 1.2, (clip.duration_s, fed_s)
        source = jfk_samples()
        corr, lag = best_alignment(np.asarray(clip.samples), source[: int(fed_s * 16000)])
        assert corr > 0.7, (corr, listed[0].audio_path)
        assert lag * 0.01 < 1.0  # the speech starts where it was fed, not later
        done = engine.recover(listed[0].id)
        assert done.state == "graded"
        words = (done.transcript or "").lower()
        assert "americans" in words or (kill_after < 3 and "fellow" in words), words
        if kill_after > 7.5:
            assert "country" in words and done.score is not None and done.score > 0
        assert engine.recover_interrupted() == []
