"""``interviewer score AUDIO --question ID [--json]``: transcribe a recorded
answer and grade it, headless. The JSON form is an integration contract:

    {"question_id", "transcript", "score" (0-100 or null when no speech),
     "key_points": [{"text", "covered", "status", "evidence"}],
     "misconceptions": [...], "flags": {...},
     "delivery": {"wpm", "speaking_time_s", "first_word_s", "fillers", ...},
     "timings": {"load_s", "transcribe_s", "grade_s"}}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

NAME = "score"
HELP = "transcribe an audio file (WAV, FLAC, OGG) and grade it against a question"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", metavar="AUDIO_FILE", help="the recorded answer")
    p.add_argument("--question", "-q", required=True, metavar="ID", help="question id (see 'interviewer bank list')")
    p.add_argument("--bank", metavar="NAME|FILE", help="question bank (default: the built-in LLM/ML bank)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    p.add_argument("--engine", choices=["openai-whisper", "faster-whisper"], help="speech-recognition engine")
    p.add_argument("--model", metavar="NAME", help="whisper model (default tiny.en, bundled)")
    p.add_argument("--no-hint", action="store_true", help="do not prime the recogniser with the question's terms")


def run(args: argparse.Namespace) -> int:
    from interviewer.commands import CommandError
    from interviewer.compose import load_bank
    from interviewer.config import load_settings

    settings = load_settings()
    bank = load_bank(args.bank)
    try:
        question = bank.get(args.question)
    except KeyError as exc:
        raise CommandError(exc.args[0]) from None

    from audio.clip import AudioFileError, read_audio
    from audio.devices import quiet_fds
    from audio.errors import AudioError

    try:
        # decoders (libsndfile's MP3 reader) write warnings straight to fd 2
        with quiet_fds(stdout=False):
            clip = read_audio(args.audio)
    except AudioFileError as exc:
        raise CommandError(str(exc)) from None

    try:
        result = score_clip(
            clip,
            question,
            engine=args.engine or settings.engine,
            model=args.model or settings.whisper_model,
            threads=settings.threads,
            beam_size=settings.beam_size,
            hint=not args.no_hint,
            progress=None if args.json else _progress,
        )
    except AudioError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_report(result, question.prompt)
    return 0


def score_clip(
    clip,
    question,
    *,
    engine: str,
    model: str,
    threads: int,
    beam_size: int = 5,
    hint: bool = True,
    progress=None,
) -> dict[str, Any]:
    """Transcribe ``clip`` and grade it against ``question``; the JSON contract."""
    from audio.transcriber import make_transcriber
    from questions import grade_question

    t0 = time.perf_counter()
    from interviewer import paths

    transcriber = make_transcriber(
        engine=engine,
        model=model,
        threads=threads,
        cache_dir=paths.cache_dir(),
        beam_size=beam_size,
    )
    transcriber.load(progress=progress)
    # load the grader's language model and this question's rubric up front, so
    # grade_s measures grading, not loading
    from questions import matcher

    matcher.load()
    matcher.prepare(question)
    t1 = time.perf_counter()
    transcript = transcriber.transcribe(clip, hint=question.recogniser_hint() if hint else "")
    t2 = time.perf_counter()
    assessment = grade_question(question, transcript.text)
    t3 = time.perf_counter()
    delivery = _delivery(transcript, clip)
    return {
        "question_id": question.id,
        "transcript": transcript.text,
        "score": assessment.percent,
        "key_points": [
            {
                "text": k.text,
                "covered": k.status == "covered",
                "status": k.status,
                "evidence": k.evidence.text if k.evidence else None,
            }
            for k in assessment.key_points
        ],
        "misconceptions": [
            {"text": m.text, "correction": m.correction, "evidence": m.evidence.text}
            for m in assessment.misconceptions
        ],
        "flags": {
            "no_speech": assessment.no_speech,
            "too_short": assessment.too_short,
            "off_topic": assessment.off_topic,
        },
        "delivery": delivery,
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments],
        "engine": transcript.engine,
        "model": transcript.model,
        "audio_s": round(clip.duration_s, 3),
        "timings": {
            "load_s": round(t1 - t0, 3),
            "transcribe_s": round(t2 - t1, 3),
            "grade_s": round(t3 - t2, 3),
        },
    }


def _delivery(transcript, clip) -> dict[str, Any]:
    """Pace, fillers, hedges, pauses and time to the first word, timed by
    voice activity on the clip."""
    from audio.delivery import assess_delivery
    from audio.vad import speech_segments

    return assess_delivery(
        transcript.text, transcript.segments, duration_s=clip.duration_s,
        speech=speech_segments(clip.samples),
    ).to_dict()


def _progress(message: str, fraction: float | None = None) -> None:
    pct = "" if fraction is None else f" {fraction * 100:3.0f}%"
    print(f"\r{message}{pct}", end="", file=sys.stderr, flush=True)
    if fraction is not None and fraction >= 1:
        print(file=sys.stderr)


def _print_report(r: dict[str, Any], prompt: str) -> None:
    print(f"Question: {prompt}")
    print(f"Transcript: {r['transcript'] or '(no speech)'}")
    if r["score"] is None:
        print("Score: not graded (no speech was recognised)")
        return
    print(f"Score: {r['score']}/100")
    for k in r["key_points"]:
        mark = {"covered": "+", "partial": "~", "missed": "-"}[k["status"]]
        ev = f'  <- "{k["evidence"]}"' if k["evidence"] else ""
        print(f"  {mark} {k['text']}{ev}")
    for m in r["misconceptions"]:
        print(f"  ! {m['text']} (actually: {m['correction']})")
    d = r.get("delivery") or {}
    if d:
        pace = f"{d['wpm']:.0f} words/min" if d.get("wpm") is not None else "not measured"
        first = d.get("first_word_s")
        after = f"; first word after {first:.1f} s" if first is not None else ""
        print(f"Delivery: pace {pace} over {d['speaking_time_s']:.1f} s of speaking{after}")
    t = r["timings"]
    print(f"Transcribed {r['audio_s']:.1f} s of audio in {t['transcribe_s']:.2f} s; graded in {t['grade_s'] * 1000:.0f} ms")
