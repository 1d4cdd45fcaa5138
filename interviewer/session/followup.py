"""The follow-up turn: after a practice answer is graded, the interviewer
probes a key point it left out, and the reply can recover part of that
point's credit.

``next_probe`` decides whether a follow-up is due and on which point (the
rules are ``questions.followup``'s: weight >= 1, missed or partial, heaviest
first, ties in bank order; never in rapid rounds; at most
``Settings.followups`` per question, each on the next point still missing).
``FollowUpTurn`` is the follow-up being asked: the engine drives it with the
same steps as an answer (ask, record or type, transcribe, grade, or skip at
no cost) and it keeps its row in the store through the answer pipeline
(``interviewer.session.answers``). ``question_grade`` reads a stored
attempt back as the question's grade: each key point given unprompted,
given after a prompt, or missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from audio.results import Recording
from interviewer.config import Settings
from interviewer.session import answers
from interviewer.session.model import Attempt, AttemptState, FollowUp, Mode
from interviewer.session.ports import Grader
from interviewer.session.store import Store
from questions.assessment import Assessment, MisconceptionResult, Status
from questions.followup import point_result, point_status, probe_order
from questions.model import Question

Given = Literal["unprompted", "prompted", "missed"]


@dataclass(frozen=True)
class Probe:
    """A follow-up the interviewer asks: which key point, and the question."""

    index: int
    """The key point's position in the question's key points."""
    key_point: str
    prompt: str
    """The key point's probe, read aloud like a question."""
    position: int
    """1 for the question's first follow-up, 2 for the second."""


def next_probe(
    question: Question,
    assessment: Assessment | None,
    settings: Settings,
    mode: Mode,
    asked: Sequence[int] = (),
) -> Probe | None:
    """The follow-up due after ``assessment`` (the answer's own grade), or
    None: rapid rounds and ``settings.followups == 0`` never follow up, an
    answer without speech neither; ``asked`` are the points already probed."""
    if mode == "rapid" or assessment is None or len(asked) >= max(0, settings.followups):
        return None
    order = probe_order(question, assessment, exclude=asked)
    if not order:
        return None
    kp = question.key_points[order[0]]
    return Probe(order[0], kp.text, kp.probe.strip(), len(asked) + 1)


class FollowUpTurn:
    """The follow-up being asked in a session (a ``turns.Turn``): its probe
    and, once the reply begins (or is skipped), its row. Every write goes
    through ``answers``."""

    def __init__(
        self, store: Store, question: Question, probe: Probe, attempt_id: int, share: float
    ) -> None:
        self.store = store
        self.question = question
        self.probe = probe
        self.attempt_id = attempt_id
        self.share = share
        """The follow-up credit in force when it was asked (kept with the row)."""
        self.row: FollowUp | None = None
        self.assessment: Assessment | None = None
        """The reply's grade, once graded."""
        self.attempt: Attempt | None = None
        """The attempt with its combined score, once the reply is graded."""

    @property
    def spoken_text(self) -> str:
        return self.probe.prompt

    @property
    def live_key(self) -> str:
        return f"followup-{self.attempt_id}-{self.probe.position}"

    @property
    def opened(self) -> bool:
        return self.row is not None

    def _open(self, *, typed: bool, state: AttemptState, audio: bool = True) -> FollowUp:
        if self.row is not None:  # recording again after a failed start
            self.row = self.store.update_followup(self.row.id, state=state, error=None)
            return self.row
        p = self.probe
        self.row = self.store.begin_followup(
            self.attempt_id, position=p.position, key_point=p.index, key_point_text=p.key_point,
            prompt=p.prompt, typed=typed, state=state, audio=audio, extra={"share": self.share},
        )
        return self.row

    def open(self) -> Path:
        row = self._open(typed=False, state="recording")
        assert row.audio_path is not None
        return Path(row.audio_path)

    def start_failed(self, error: str) -> None:
        assert self.row is not None
        self.row = self.store.update_followup(self.row.id, state="failed", error=error)

    def stop_failed(self, error: str) -> None:
        assert self.row is not None
        self.row = self.store.update_followup(self.row.id, state="recorded", error=error)

    def recorded(self, rec: Recording, *, timed_out: bool, answer_time_s: float) -> None:
        assert self.row is not None
        self.row = answers.store_followup_recording(
            self.store, self.row, rec, timed_out=timed_out, answer_time_s=answer_time_s
        )

    def transcribed(self, done: answers.Transcribed, *, current: bool) -> None:
        if self.row is None:
            return
        state = self.row.state
        self.row = answers.store_followup_transcript(self.store, self.row, done)
        if not current and state in ("skipped", "failed"):
            self.row = self.store.update_followup(self.row.id, state=state)

    def typed(self, text: str, *, timed_out: bool, answer_time_s: float) -> None:
        """A typed reply; typing while recording, the row keeps its audio
        and takes the text."""
        row = self._open(typed=True, state="transcribed")
        self.row = self.store.update_followup(
            row.id, state="transcribed", typed=True, transcript=text, answer_time_s=answer_time_s,
            extra={**row.extra, "timed_out": timed_out},
        )

    def grade(self, grader: Grader | None, text: str | None) -> Assessment:
        """Grade the reply and work out the attempt's combined score."""
        assert self.row is not None
        self.row, self.assessment = answers.grade_followup(
            self.store, self.question, self.row, grader, text=text
        )
        self.attempt = answers.recombine(self.store, self.question, self.attempt_id)
        return self.assessment

    def close(self, state: AttemptState, *, record_unasked: bool) -> None:
        """End the follow-up without a grade; with ``record_unasked`` one
        never answered is stored too (a skipped follow-up is part of the
        exchange). Costs nothing: the answer's grade stands."""
        if self.row is None:
            if record_unasked:
                self._open(typed=False, state=state, audio=False)
            return
        if self.row.state not in ("graded", "skipped", "failed"):
            self.row = self.store.update_followup(self.row.id, state=state)


# -- the question's grade, read back ---------------------------------------------------


@dataclass(frozen=True)
class PointGrade:
    """One key point of a question, with its follow-up if it had one."""

    text: str
    weight: float
    given: Given
    """"unprompted": said in the answer; "prompted": said only after a
    follow-up's prompt; "missed": not said (even when prompted)."""
    status: Status
    """Its best status: in the answer, or after the prompt when that added credit."""
    evidence: str = ""
    missing: str = ""
    probe: str = ""
    """The follow-up asked about it ("" when none was)."""
    reply: str = ""
    """What was said after the probe."""
    reply_state: str = ""
    """The follow-up's state ("graded", "skipped", ...; "" when none was asked)."""
    recovered: float = 0.0
    """Score the follow-up added for it (0..1 of the full score)."""


@dataclass(frozen=True)
class QuestionGrade:
    """A graded question with its follow-ups."""

    assessment: Assessment
    """The answer's own grade."""
    followups: tuple[FollowUp, ...]
    score: float | None
    """Combined: unprompted plus what the follow-ups recovered, minus their misconceptions."""
    unprompted_score: float | None
    points: tuple[PointGrade, ...]
    charged: tuple[MisconceptionResult, ...] = ()
    """Misconceptions stated in follow-ups (charged once per question)."""

    @property
    def percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)

    @property
    def unprompted_percent(self) -> int | None:
        return None if self.unprompted_score is None else round(self.unprompted_score * 100)

    def count(self, given: Given) -> int:
        return sum(1 for p in self.points if p.given == given)


def question_grade(
    question: Question, assessment: Assessment, followups: Sequence[FollowUp],
    score: float | None = None, unprompted_score: float | None = None,
) -> QuestionGrade:
    """The question's grade from the answer's ``assessment`` and its stored
    ``followups`` (``score``: the attempt's stored combined score; None:
    the answer's own)."""
    by_point = {f.key_point_text: f for f in followups}
    points = []
    charged: list[MisconceptionResult] = []
    for i, kp in enumerate(question.key_points):
        own = point_result(question, assessment, i)
        status = point_status(question, assessment, i)
        given: Given = "missed" if status == "missed" else "unprompted"
        evidence = own.evidence.text if own is not None and own.evidence is not None else ""
        missing = own.missing if own is not None else ""
        f = by_point.get(kp.text)
        probe = reply = reply_state = ""
        recovered = 0.0
        if f is not None:
            probe, reply, reply_state = f.prompt, (f.transcript or ""), f.state
            grade = f.grade or {}
            recovered = float(grade.get("recovered", 0.0))
            if recovered > 0 and grade.get("assessment"):
                reply_grade = Assessment.from_dict(grade["assessment"])
                said = point_result(question, reply_grade, i)
                given, status = "prompted", point_status(question, reply_grade, i)
                if said is not None:
                    evidence = said.evidence.text if said.evidence is not None else evidence
                    missing = said.missing
        points.append(PointGrade(kp.text, float(kp.weight), given, status, evidence, missing,
                                 probe, reply, reply_state, recovered))
    for f in followups:
        grade = f.grade or {}
        texts = {str(c[0]) for c in grade.get("charged", ())}
        if texts and grade.get("assessment"):
            found = Assessment.from_dict(grade["assessment"]).misconceptions
            charged.extend(m for m in found if m.text in texts)
    own_score = assessment.score
    return QuestionGrade(
        assessment, tuple(followups), own_score if score is None else score,
        own_score if unprompted_score is None else unprompted_score, tuple(points), tuple(charged),
    )


def missed_points(question: Question, assessment: Assessment, grade: QuestionGrade | None = None) -> list[str]:
    """The key points not given (missed, or only partly given and not made up
    for after a prompt), in bank order: what the feedback reads aloud."""
    if grade is not None:
        return [p.text for p in grade.points if p.given == "missed" or p.status == "partial"]
    return [
        kp.text for i, kp in enumerate(question.key_points)
        if point_status(question, assessment, i) != "covered"
    ]


def attempt_grade(store: Store, question: Question, attempt: Attempt) -> QuestionGrade | None:
    """A stored attempt's grade with its follow-ups; None when not graded."""
    if attempt.assessment is None:
        return None
    return question_grade(
        question, Assessment.from_dict(attempt.assessment), store.followups(attempt.id),
        attempt.score, attempt.unprompted_score,
    )


__all__ = [
    "FollowUpTurn",
    "Given",
    "PointGrade",
    "Probe",
    "QuestionGrade",
    "attempt_grade",
    "missed_points",
    "next_probe",
    "question_grade",
]
