"""Live transcription: the answer is transcribed stretch by stretch while it
is recorded, so that when the person stops only the tail is left.

``LiveTranscription.start`` points a streaming recorder's ``feed`` at an
``audio.incremental.IncrementalTranscriber``; the engine then either hands
that transcriber over (to finish the tail, in the foreground or on the
background grader) or cancels it (skip, finish, a failed start, no speech).
``finish_live`` checks that the live transcript heard the whole recording:
when blocks were lost or the recogniser failed, the caller transcribes the
file instead and notes why.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from audio.errors import one_line
from audio.results import Recording, Transcript
from interviewer.session.ports import Recorder, StreamingRecorder, Transcriber

if TYPE_CHECKING:
    from audio.incremental import IncrementalTranscriber

LIVE_COVERAGE_TOLERANCE_S = 0.25
"""The incremental transcriber must have heard the whole recording (to this
much): otherwise blocks were lost and the file is transcribed instead."""


class LiveTranscription:
    """Transcribes the answer being recorded while it is spoken, when the
    recorder streams its blocks and a recogniser is available (one answer
    at a time); otherwise every method is a no-op and the answer is
    transcribed after it ends."""

    def __init__(
        self, recorder: Recorder | None, transcriber: Transcriber | None, *, enabled: bool = True
    ) -> None:
        self._recorder = recorder if isinstance(recorder, StreamingRecorder) else None
        self._transcriber = transcriber if enabled and self._recorder is not None else None
        self._key: str | None = None
        self._current: IncrementalTranscriber | None = None

    def start(self, key: str, hint: str) -> None:
        """Start transcribing the answer named ``key`` (an attempt's id, a
        follow-up's key), cancelling any other, and point the recorder's
        ``feed`` at it."""
        self.cancel()
        if self._transcriber is None or self._recorder is None:
            return
        try:
            from audio.incremental import IncrementalTranscriber

            current = IncrementalTranscriber(self._transcriber, hint)
        except Exception:
            return  # transcribing the file afterwards still works
        self._recorder.feed = current.feed
        self._key, self._current = key, current

    @property
    def transcriber(self) -> IncrementalTranscriber | None:
        """The live transcriber of the answer being recorded, or None."""
        return self._current

    def text_so_far(self) -> str:
        """The text of the stretches transcribed so far; "" when none (any thread)."""
        current = self._current
        if current is None:
            return ""
        texts = [s.text.strip() for s in list(current.stretches)]
        return " ".join(t for t in texts if t)

    def detach(self) -> None:
        """Stop feeding the recorder's blocks to the transcriber."""
        if self._current is not None and self._recorder is not None:
            self._recorder.feed = None

    def hand_over(self, key: str) -> IncrementalTranscriber | None:
        """Detach and give the transcriber of the answer ``key`` to the
        caller, who finishes or cancels it (None when none ran for it)."""
        if self._key != key:
            self.cancel()
            return None
        self.detach()
        current, self._current, self._key = self._current, None, None
        return current

    def cancel(self) -> None:
        """Detach and stop transcribing, without waiting for the stretch
        being transcribed."""
        self.detach()
        current, self._current, self._key = self._current, None, None
        if current is not None:
            cancel_in_background(current)


def finish_live(
    live: IncrementalTranscriber, recording: Recording
) -> tuple[Transcript | None, str | None]:
    """Finish an incremental transcription: (transcript, None), or (None,
    why it cannot be used) after cancelling it."""
    lost = int(recording.extra.get("feed_errors", 0) or 0)
    if lost:
        cancel_in_background(live)
        return None, f"{lost} audio blocks did not reach the live transcription"
    try:
        transcript = live.finish()
    except Exception as exc:
        return None, f"live transcription failed: {one_line(exc)}"
    if abs(transcript.duration_s - recording.duration_s) > LIVE_COVERAGE_TOLERANCE_S:
        return None, (
            f"live transcription heard {transcript.duration_s:.2f} s "
            f"of a {recording.duration_s:.2f} s recording"
        )
    return transcript, None


def cancel_in_background(live: IncrementalTranscriber) -> None:
    """Stop an incremental transcriber without waiting for the stretch it
    may be transcribing (that finishes on its own thread, then it ends)."""

    def cancel() -> None:
        try:
            live.cancel()
        except Exception:
            pass

    threading.Thread(target=cancel, name="incremental-cancel", daemon=True).start()


__all__ = ["LIVE_COVERAGE_TOLERANCE_S", "LiveTranscription", "cancel_in_background", "finish_live"]
