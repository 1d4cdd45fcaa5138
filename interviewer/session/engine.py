"""The headless session engine (never imports textual).

CONTRACT (the TUI and the CLI code against exactly this; the bodies are to be
written). Every method runs synchronously on plain values; the TUI calls the
slow ones (ask, stop_answer, transcribe, grade) from thread workers.

    engine = SessionEngine(bank, store, ports, settings, config,
                           clock=time.monotonic, rng=random.Random(seed))
    engine.start()                         -> SessionInfo   (row in the store)
    engine.questions                       -> list[Question] chosen for the session
    engine.phase                           -> Phase
    engine.index / engine.current          -> position and current Question (None when done)
    engine.next_question()                 -> Question | None   (phase ASKING; None -> DONE)
    engine.ask(cancel: Event | None)       -> str | None  (speaks the question; returns a
                                              one-line notice instead of raising when speech
                                              is unavailable)
    engine.start_answer(on_level=None)     -> Attempt  (phase LISTENING; the attempt row exists
                                              in state "recording" BEFORE audio starts; raises
                                              audio.errors.NoMicrophone -> caller offers typing)
    engine.answer_ended(timeout)           -> bool     (recorder stopped by itself: silence/limit)
    engine.stop_answer()                   -> Recording (state "recorded")
    engine.transcribe()                    -> Transcript (state "transcribed"; no-speech -> no grade)
    engine.grade(text: str | None = None)  -> Assessment (state "graded"; text overrides the
                                              transcript, e.g. a hand correction -> re-grade)
    engine.submit_typed(text)              -> Assessment (typed answer: creates + grades an attempt)
    engine.skip()                          -> None (attempt row "skipped" if one was open)
    engine.remaining_s()                   -> float | None (rapid rounds: time left for this answer)
    engine.finish()                        -> SessionSummary (per-question score and time,
                                              total, personal best for rapid rounds)
    engine.recover_interrupted()           -> list[Attempt] (rows left in "recording"/"recorded"
                                              by a crash, audio on disk, offered for transcription)
"""
