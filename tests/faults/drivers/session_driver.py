"""Run one real practice question headless: the real speaker, recorder,
transcriber and store, printing ``PHASE <name>`` as each phase starts so a
test can interrupt it exactly there.

    session_driver.py --bank FILE --question ID [--hold-save S] [--max-answer S]
                      [--silence S] [--no-speak] [--lazy-model] [--typed TEXT]

Phases: ready, speaking, recording, transcribing, saving; then one line
``RESULT {json}``. Ctrl-C (or SIGTERM) ends it the way the app does: the
answer so far is kept, one line on stderr, exit status 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.getcwd())


def phase(name: str) -> None:
    print(f"PHASE {name}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", required=True)
    ap.add_argument("--question", required=True)
    ap.add_argument("--hold-save", type=float, default=0.0)
    ap.add_argument("--max-answer", type=float, default=30.0)
    ap.add_argument("--silence", type=float, default=1.5)
    ap.add_argument("--no-speech-timeout", type=float, default=None)
    ap.add_argument("--no-speak", action="store_true")
    ap.add_argument("--lazy-model", action="store_true")
    ap.add_argument("--typed", default=None)
    args = ap.parse_args()

    import questions
    from audio.errors import AudioError
    from audio.recorder import Recorder, RecorderSettings
    from audio.transcriber import make_transcriber
    from audio.tts import Speaker
    from interviewer import paths
    from interviewer.config import Settings
    from interviewer.instance import (
        INTERRUPTED_EXIT,
        exit_after_interrupt,
        keep_answer,
        termination_as_interrupt,
    )
    from interviewer.session.engine import Ports, SessionEngine, SessionError
    from interviewer.session.model import SessionConfig
    from interviewer.session.store import Store, StoreError

    hold = args.hold_save

    class SlowSaveStore(Store):
        """Marks the moment the grade is written (and can hold it there)."""

        def record_grade(self, attempt_id, **kw):
            phase("saving")
            if hold:
                time.sleep(hold)
            return super().record_grade(attempt_id, **kw)

    bank = questions.load_bank(args.bank)
    store = SlowSaveStore()
    transcriber = make_transcriber("openai-whisper", threads=1, cache_dir=paths.cache_dir())
    if not args.lazy_model:
        transcriber.load()
    ports = Ports(
        speaker=None if args.no_speak else Speaker(paths.tts_cache_dir()),
        recorder=Recorder(
            RecorderSettings(
                silence_timeout_s=args.silence,
                max_duration_s=args.max_answer,
                no_speech_timeout_s=args.no_speech_timeout,
            )
        ),
        transcriber=transcriber,
    )
    settings = Settings(speak_questions=not args.no_speak)
    config = SessionConfig(bank=bank.name, count=1, question_ids=(args.question,), seed=1)
    engine = SessionEngine(bank, store, ports, settings, config)
    phase("ready")
    interrupted = False
    with termination_as_interrupt():
        try:
            engine.start()
            engine.next_question()
            if args.typed is not None:
                a = engine.submit_typed(args.typed)
                print("RESULT " + json.dumps({"attempt": engine.attempt.id, "score": a.score}), flush=True)
                return 0
            phase("speaking")
            notice = engine.ask()
            if notice:
                print(f"NOTICE {notice}", flush=True)
            attempt = engine.start_answer()
            phase("recording")
            while not engine.answer_ended(timeout=0.2):
                pass
            rec = engine.stop_answer()
            phase("transcribing")
            transcript = engine.transcribe()
            assessment = engine.grade()  # no speech: recorded as "no speech", no score
            score = assessment.score
            final = store.get_attempt(attempt.id)
            print(
                "RESULT "
                + json.dumps(
                    {
                        "attempt": attempt.id,
                        "state": final.state,
                        "score": score,
                        "stopped_by": rec.stopped_by,
                        "duration_s": rec.duration_s,
                        "speech": rec.speech_detected,
                        "transcript": transcript.text,
                        "error": rec.error,
                        "no_speech": assessment.no_speech,
                    }
                ),
                flush=True,
            )
            return 0
        except KeyboardInterrupt:
            print(keep_answer(engine), file=sys.stderr, flush=True)
            interrupted = True
        except (AudioError, SessionError, StoreError) as exc:
            print(f"interviewer: {exc}", file=sys.stderr, flush=True)
            return 2
        finally:
            store.close()
            if interrupted:
                # as the app does: leave without finalising around a busy decode
                exit_after_interrupt(INTERRUPTED_EXIT)


if __name__ == "__main__":
    sys.exit(main())
