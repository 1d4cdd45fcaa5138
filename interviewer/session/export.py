"""Exporting attempts (one session or the whole history) to Markdown, JSON
and CSV, and a question bank to an Anki deck.

Files go to ``paths.exports_dir()`` unless a path is given; they are
readable by the user only (answers are personal).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from interviewer import paths
from interviewer.session.store import Store, StoreError, parse_iso, utc_now
from questions.model import Bank

Format = Literal["md", "json", "csv", "anki"]
FORMATS: tuple[str, ...] = ("md", "json", "csv", "anki")
_SUFFIX = {"md": ".md", "json": ".json", "csv": ".csv", "anki": ".apkg"}

CSV_COLUMNS = (
    "attempt_id",
    "session_id",
    "bank",
    "question_id",
    "prompt",
    "state",
    "started_at",
    "typed",
    "score",
    "percent",
    "answer_time_s",
    "duration_s",
    "covered",
    "missed",
    "misconceptions",
    "no_speech",
    "wpm",
    "fillers",
    "transcript_edited",
    "transcript",
    "unprompted_score",
    "followups",
    "prompted",
    "followup_exchange",
)
"""One row per attempt; its follow-ups are summed up in the last columns:
``unprompted_score`` (the answer's own score; ``score`` is the combined one),
``followups`` (how many were asked), ``prompted`` (key points given only
after a prompt) and ``followup_exchange`` (each probe, its state and the
reply, " | " between follow-ups)."""


class ExportError(Exception):
    """An export cannot be written; one actionable line."""


# -- collecting rows ------------------------------------------------------------------


def attempt_rows(store: Store, session_id: int | None = None) -> list[dict[str, Any]]:
    """Full stored rows (JSON columns decoded) of one session or of all attempts."""
    if session_id is not None:
        store.get_session(session_id)  # a clear error for an unknown id
    return store.rows(store.attempts(session_id=session_id))


def _prompt(bank: Bank | None, question_id: str) -> str:
    if bank is not None and question_id in bank:
        return bank.get(question_id).prompt
    return question_id


# -- formats ------------------------------------------------------------------------


def to_json(rows: Sequence[dict[str, Any]], *, meta: dict[str, Any] | None = None) -> str:
    return json.dumps({**(meta or {}), "attempts": list(rows)}, indent=2, ensure_ascii=False) + "\n"


def to_csv(rows: Sequence[dict[str, Any]], bank: Bank | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        a = r.get("assessment") or {}
        kps = a.get("key_points") or []
        d = r.get("delivery") or {}
        score = r.get("score")
        fillers = d.get("fillers")
        if isinstance(fillers, list):
            fillers = sum(int(n) for _, n in fillers) if fillers and isinstance(fillers[0], list) else len(fillers)
        writer.writerow(
            [
                r["id"],
                r.get("session_id") or "",
                r.get("bank") or "",
                r["question_id"],
                _prompt(bank, r["question_id"]),
                r["state"],
                r["started_at"],
                int(bool(r.get("typed"))),
                "" if score is None else f"{score:.4f}",
                "" if score is None else round(score * 100),
                _num(r.get("answer_time_s")),
                _num(r.get("duration_s")),
                sum(1 for k in kps if k.get("status") == "covered"),
                " | ".join(k["text"] for k in kps if k.get("status") == "missed"),
                " | ".join(m["text"] for m in a.get("misconceptions") or []),
                int(bool(a.get("no_speech"))),
                _num(d.get("wpm")),
                "" if fillers is None else fillers,
                int(bool(r.get("transcript_edited"))),
                r.get("transcript") or "",
                "" if r.get("unprompted_score") is None else f"{r['unprompted_score']:.4f}",
                len(r.get("followups") or ()),
                " | ".join(f["key_point_text"] for f in _recovered(r)),
                " | ".join(
                    f"{f['prompt']} [{f['state']}] {(f.get('transcript') or '').strip()}".strip()
                    for f in r.get("followups") or ()
                ),
            ]
        )
    return out.getvalue()


def to_markdown(
    rows: Sequence[dict[str, Any]], bank: Bank | None = None, *, title: str = "Interview practice"
) -> str:
    lines = [f"# {title}", ""]
    if not rows:
        lines += ["No attempts yet.", ""]
    graded = [r["score"] for r in rows if r.get("score") is not None]
    if graded:
        mean = sum(graded) / len(graded)
        lines += [f"{len(rows)} attempts, {len(graded)} graded, mean score {round(mean * 100)}%.", ""]
    session = object()
    for r in rows:
        if r.get("session_id") != session:
            session = r.get("session_id")
            label = f"Session {session}" if session is not None else "Answers outside a session"
            lines += [f"## {label}", ""]
        lines += _markdown_attempt(r, bank)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_attempt(r: dict[str, Any], bank: Bank | None) -> list[str]:
    a = r.get("assessment") or {}
    when = parse_iso(r["started_at"]).strftime("%Y-%m-%d %H:%M UTC")
    score = r.get("score")
    if a.get("no_speech"):
        result = "no speech detected (not graded)"
    elif score is not None:
        result = f"score {round(score * 100)}%"
    else:
        result = r["state"]
    out = [f"### {_prompt(bank, r['question_id'])}", ""]
    if score is not None and r.get("followups") and r.get("unprompted_score") is not None:
        result += f" ({round(r['unprompted_score'] * 100)}% unprompted)"
    facts = [f"`{r['question_id']}`", when, result]
    if r.get("answer_time_s") is not None:
        facts.append(f"answered in {r['answer_time_s']:.0f} s")
    if r.get("typed"):
        facts.append("typed")
    out += [" - ".join(facts), ""]
    transcript = (r.get("transcript") or "").strip()
    if transcript:
        label = "Your answer (corrected by hand)" if r.get("transcript_edited") else "Your answer"
        out += [f"**{label}:**", ""]
        out += [f"> {line}" for line in transcript.splitlines()] + [""]
    kps = a.get("key_points") or []
    covered = [k for k in kps if k.get("status") == "covered"]
    partial = [k for k in kps if k.get("status") == "partial"]
    missed = [k for k in kps if k.get("status") == "missed"]
    if covered:
        out += ["**Covered:**", ""]
        for k in covered:
            ev = (k.get("evidence") or {}).get("text")
            out.append(f"- {k['text']}" + (f' ("{ev}")' if ev else ""))
        out.append("")
    prompted = {f.get("key_point_text") for f in _recovered(r)}

    def listed(k: dict[str, Any]) -> str:
        return f"- {k['text']}" + (" (given after a follow-up)" if k["text"] in prompted else "")

    if partial:
        out += ["**Partly covered:**", ""] + [listed(k) for k in partial] + [""]
    if missed:
        out += ["**Missed:**", ""] + [listed(k) for k in missed] + [""]
    mis = a.get("misconceptions") or []
    if mis:
        out += ["**Misconceptions:**", ""]
        out += [f"- {m['text']} - {m.get('correction', '')}".rstrip(" -") for m in mis] + [""]
    out += _markdown_followups(r)
    delivery = _delivery_line(r.get("delivery"))
    if delivery:
        out += [f"**Delivery:** {delivery}", ""]
    return out


def _recovered(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The follow-ups of a row whose key point was given after the prompt."""
    return [
        f for f in r.get("followups") or ()
        if f.get("state") == "graded" and float((f.get("grade") or {}).get("recovered") or 0) > 0
    ]


def _markdown_followups(r: dict[str, Any]) -> list[str]:
    """The follow-up exchange of an attempt: each probe and its reply."""
    out: list[str] = []
    for f in r.get("followups") or ():
        grade = f.get("grade") or {}
        if f.get("state") == "skipped":
            outcome = "skipped"
        elif f.get("state") != "graded":
            outcome = f"not graded ({f.get('state')})"
        elif float(grade.get("recovered") or 0) > 0:
            outcome = (f"given after the prompt ({grade.get('after')}): "
                       f"+{round(float(grade['recovered']) * 100)} points")
        else:
            outcome = "still missed"
        out += [f"**Follow-up {f['position']}** (on: {f['key_point_text']}): {f['prompt']}", ""]
        reply = (f.get("transcript") or "").strip()
        if reply:
            out += [f"> {line}" for line in reply.splitlines()] + [""]
        out += [f"- {outcome}"]
        out += [f"- misconception: {text}" for text, _ in grade.get("charged") or ()]
        out.append("")
    return out


def _delivery_line(d: dict[str, Any] | None) -> str:
    if not d:
        return ""
    parts = []
    if d.get("wpm") is not None:
        parts.append(f"{d['wpm']:.0f} words per minute" + (f" ({d['pace']})" if d.get("pace") else ""))
    elif d.get("words") is not None:
        parts.append(f"{d['words']} words")
    fillers = d.get("fillers")
    if isinstance(fillers, list) and fillers:
        if isinstance(fillers[0], list):
            parts.append("fillers: " + ", ".join(f"{w} x{n}" for w, n in fillers))
        else:
            parts.append(f"{len(fillers)} fillers")
    pauses = d.get("long_pauses")
    if isinstance(pauses, list) and pauses:
        parts.append(f"{len(pauses)} long pauses")
    return "; ".join(parts)


def _num(value: Any) -> Any:
    return "" if value is None else round(float(value), 3)


# -- Anki ----------------------------------------------------------------------------


def stable_id(kind: str, bank_name: str) -> int:
    """A stable 31-bit id (Anki model/deck ids) derived from the bank name."""
    digest = hashlib.sha256(f"interview-trainer/{kind}/{bank_name}".encode()).digest()
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


def bank_to_anki(bank: Bank, path: Path, *, timestamp: float | None = None) -> Path:
    """Write ``bank`` as an Anki package: the question on the front, the
    reference answer and key points on the back."""
    import genanki

    model = genanki.Model(
        stable_id("model", bank.name),
        f"Interview trainer ({bank.name})",
        fields=[{"name": "Question"}, {"name": "Reference"}, {"name": "KeyPoints"}, {"name": "Id"}],
        templates=[
            {
                "name": "Answer out loud",
                "qfmt": '<div class="q">{{Question}}</div>',
                "afmt": '{{FrontSide}}<hr id="answer"><div class="ref">{{Reference}}</div>'
                '<div class="kp"><b>Key points</b>{{KeyPoints}}</div>',
            }
        ],
        css=".card { font-family: sans-serif; font-size: 18px; text-align: left; }"
        " .q { font-weight: bold; } .kp { margin-top: 1em; }",
    )
    deck = genanki.Deck(stable_id("deck", bank.name), bank.title or bank.name)
    for q in bank.questions:
        points = "<ul>" + "".join(f"<li>{html.escape(k.text)}</li>" for k in q.key_points) + "</ul>"
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[html.escape(q.prompt), html.escape(q.reference.strip()), points, q.id],
                tags=[t.replace(" ", "_") for t in q.topics],
                guid=genanki.guid_for(bank.name, q.id),
            )
        )
    package = genanki.Package(deck)
    _prepare(path)
    package.write_to_file(str(path), timestamp=timestamp)
    _private(path)
    return path


# -- writing files ---------------------------------------------------------------------


def default_name(fmt: str, *, session_id: int | None, bank: str, now: datetime) -> str:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    if fmt == "anki":
        return f"{bank}-deck{_SUFFIX[fmt]}"
    what = f"session-{session_id}" if session_id is not None else "history"
    return f"{what}-{stamp}{_SUFFIX[fmt]}"


def resolve_output(output: str | Path | None, name: str) -> Path:
    """``output`` may be a file, a folder (existing or ending in a slash), or
    None for the exports folder."""
    if output is None:
        return paths.private_dir(paths.exports_dir()) / name
    p = Path(output).expanduser()
    if p.is_dir() or str(output).endswith(os.sep):
        return p / name
    return p


def export(
    store: Store,
    bank: Bank | None,
    fmt: str,
    *,
    session_id: int | None = None,
    output: str | Path | None = None,
    now: Callable[[], datetime] = utc_now,
) -> Path:
    """Write one export and return its path."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    moment = now()
    bank_name = bank.name if bank is not None else "bank"
    path = resolve_output(output, default_name(fmt, session_id=session_id, bank=bank_name, now=moment))
    try:
        if fmt == "anki":
            if bank is None:
                raise ExportError("an Anki export needs a question bank")
            return bank_to_anki(bank, path)
        try:
            rows = attempt_rows(store, session_id)
        except StoreError as exc:
            raise ExportError(str(exc)) from None
        if fmt == "json":
            meta = {"exported_at": moment.isoformat(), "session_id": session_id, "bank": bank_name}
            text = to_json(rows, meta=meta)
        elif fmt == "csv":
            text = to_csv(rows, bank)
        else:
            title = f"Interview practice - session {session_id}" if session_id else "Interview practice - history"
            text = to_markdown(rows, bank, title=title)
        _prepare(path)
        path.write_text(text, encoding="utf-8", newline="")
        _private(path)
        return path
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _prepare(path: Path) -> None:
    if not path.parent.exists():
        paths.private_dir(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _private(path: Path) -> None:
    try:
        path.chmod(0o600)
    except OSError:
        pass
