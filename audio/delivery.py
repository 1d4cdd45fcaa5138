"""Delivery metrics of a spoken answer: pace, filler words, hedges, pauses,
repeated words. Pure functions on a transcript (no I/O, no heavy imports).

Inputs are the transcript text, its timed segments (``audio.results.Segment``
or ``(start, end, text)`` triples) and, when available, the speech the voice
activity detector found (``speech``: its (start, end) segments). Timing comes
from the detector whenever it is given: the recogniser's segment times are
not where the words are (whisper starts its first segment seconds before the
first word after a silence, so a pause before answering was counted as slow
speech). The segments are the fallback when there is no detector output.

Defaults (all in ``DeliveryThresholds``):

* pace: words per minute over *speaking time*, i.e. from the first to the last
  word minus the thinking time in every pause of 3 s or more (all of it but
  the first second, the break a sentence end takes anyway). A
  comfortable interview pace is 120-160 wpm; answers under 10 words get no
  pace;
* fillers: um, uh, er, erm, hmm, "you know", "I mean", and "like"/"so" only
  where they are fillers: "like" when set off by commas, sentence-initial or
  followed by a pronoun/intensifier, never after verbs of comparison or
  liking (would, looks, feel, ...) nor before a noun phrase ("like a cache");
  "so" only sentence-initial or standing alone between commas (never "also",
  "so that", "so far");
* hedges: maybe, I think, sort of, kind of (not "what kind of"), probably,
  I guess;
* long pauses: silences of 1 s or more inside the answer;
* time to first word: the silence before the answer starts (the detector's
  first speech); from 5 s on a gentle note says that interviewers notice a
  long silence and that saying you are thinking fills it;
* repeated words: the same word twice in a row ("the the"), except pairs that
  are often grammatical ("that that", "had had").

Documented limitation, measured: whisper learnt from transcripts that mostly
leave disfluencies out, so it drops most "um"/"uh". With tiny.en (openai-whisper,
greedy, no prompt) on espeak-ng speech at 160 wpm holding 17 planted fillers in 8
sentences, recall was 0.41 (7/17): 1/9 for the vocal fillers (um, uh, er, hmm)
but 6/8 for the word fillers ("so", "like", "you know", "I mean"); one "so"
became a filler because the "hmm" before it was dropped. The filler count is
therefore a lower bound, mostly blind to "um"/"uh"; ``FILLER_RECALL_NOTE`` says
so in one line for the UI. ``tests/audio_io/test_filler_recall.py`` repeats the
measurement. A disfluent lead-in after the glossary in the prompt ("Um, so, uh,
I think...") kept 5/9 um/uh against 2/9 with the glossary alone, short of the
0.6 recall it would need to be adopted (``tests.benchmarks.filler_prompt``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FILLER_RECALL_NOTE = (
    "Filler counts are a lower bound: speech recognition drops most 'um'/'uh' "
    "(in our tests it kept 1 in 9 of them, and 6 in 8 of 'so', 'like', 'you know')."
)
"""One-line caveat to show beside filler counts."""


@dataclass(frozen=True)
class DeliveryThresholds:
    """Every threshold of the delivery notes, with the documented defaults."""

    pace_min_wpm: float = 120.0
    pace_max_wpm: float = 160.0
    """A comfortable pace lies in [pace_min_wpm, pace_max_wpm]."""
    pace_far_wpm: float = 25.0
    """Beyond the range by more than this is "too fast"/"too slow", else "a little"."""
    min_words_for_pace: int = 10
    excluded_pause_s: float = 3.0
    """Pauses at least this long are thinking time, not speaking time..."""
    kept_of_long_pause_s: float = 1.0
    """...except their first second, the break between two sentences that a
    pause for thought replaces (so cutting a pause into an answer at a
    sentence end leaves its pace as it was)."""
    long_pause_s: float = 1.0
    """Pauses at least this long are reported."""
    filler_per_100_words: float = 3.0
    """More fillers than this per 100 words earns a note."""
    hedge_per_100_words: float = 3.0
    first_word_note_s: float = 5.0
    """A silence this long or longer before the first word earns a note."""


@dataclass(frozen=True)
class Delivery:
    """Delivery metrics of one answer (frozen, serialisable with ``to_dict``)."""

    words: int
    speaking_time_s: float
    wpm: float | None
    """None when the answer is too short to measure."""
    pace: str | None
    """"too slow", "a little slow", "comfortable", "a little fast", "too fast" or None."""
    fillers: tuple[tuple[str, int], ...] = ()
    """(filler, count), most frequent first."""
    hedges: tuple[tuple[str, int], ...] = ()
    long_pauses: tuple[tuple[float, float], ...] = ()
    repeats: tuple[str, ...] = ()
    """Each repetition found, e.g. "the the"."""
    notes: tuple[str, ...] = ()
    first_word_s: float | None = None
    """Seconds of silence before the first word (voice activity), None when unknown."""
    timing: str = "segments"
    """Where the times come from: "voice activity" or the recogniser's "segments"."""
    thresholds: DeliveryThresholds = field(default_factory=DeliveryThresholds)

    @property
    def filler_count(self) -> int:
        return sum(n for _, n in self.fillers)

    @property
    def hedge_count(self) -> int:
        return sum(n for _, n in self.hedges)

    @property
    def fillers_per_100_words(self) -> float:
        return 100.0 * self.filler_count / self.words if self.words else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filler_count"] = self.filler_count
        d["hedge_count"] = self.hedge_count
        return d


# --- tokens ------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*|[.!?;:,\u2026-]")
_SENTENCE_END = {".", "!", "?", ";", ":", "\u2026"}
_SIMPLE_FILLER = re.compile(r"^(?:u+m+|u+h+m*|e+r+m*|e+r+|h+m+|m+h*m+|a+h+)$")
"""um, umm, uh, uhm, er, erm, hmm, mm, ah, with stretched spellings."""

_LIKE_NOT_AFTER = {
    "would", "d", "looks", "look", "looked", "looking", "feel", "feels", "felt", "feeling",
    "seem", "seems", "seemed", "sound", "sounds", "sounded", "something", "anything",
    "nothing", "things", "thing", "just", "more", "much", "less", "i", "we", "they", "you",
    "don't", "didn't", "doesn't", "do", "does", "did", "really", "also", "to", "not",
    "would've", "i'd", "we'd", "you'd", "they'd", "likes", "liked", "exactly",
}
_LIKE_FILLER_NEXT = {
    "really", "very", "so", "just", "totally", "literally", "basically", "super",
    "um", "uh", "i", "you", "we", "they", "he", "she", "it's", "there's", "that's",
    "is", "was", "kind", "sort", "maybe", "actually", "yeah", "oh", "like",
}
_SO_NOT_BEFORE = {"far", "much", "many", "long", "that"}
_YOU_KNOW_NOT_AFTER = {"do", "did", "don't", "didn't", "if", "would", "could", "what", "whether",
                       "how", "should", "will", "let", "can"}
_I_MEAN_NOT_AFTER = {"what", "which", "do", "did", "don't"}
_KIND_NOT_AFTER = {"what", "which", "this", "that", "a", "the", "some", "any", "one", "every",
                   "each", "same", "different", "no", "another", "these", "those"}
_REPEAT_OK = {"that", "had", "is", "very", "really", "no", "bye", "ha"}


@dataclass(frozen=True)
class _Tok:
    text: str
    word: bool
    sentence_start: bool
    comma_before: bool
    comma_after: bool


def _tokens(text: str) -> list[_Tok]:
    raw = _TOKEN.findall(text)
    out: list[_Tok] = []
    start = True
    comma = False
    for i, t in enumerate(raw):
        if not t[0].isalnum():
            if t in _SENTENCE_END:
                start = True
            if t == "," or t == "-":
                comma = True
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else "."
        out.append(
            _Tok(
                text=t.lower().replace("\u2019", "'"),
                word=True,
                sentence_start=start,
                comma_before=comma or start,
                comma_after=nxt == "," or nxt in _SENTENCE_END or nxt == "-",
            )
        )
        start = False
        comma = False
    return out


def _words(toks: Sequence[_Tok]) -> list[str]:
    return [t.text for t in toks]


def find_fillers(text: str) -> list[str]:
    """Every filler in ``text``, in order (normalised: "um", "you know", ...)."""
    toks = _tokens(text)
    words = _words(toks)
    found: list[str] = []
    for i, tok in enumerate(toks):
        w = tok.text
        prev = words[i - 1] if i > 0 else ""
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if _SIMPLE_FILLER.match(w):
            found.append(_simple_name(w))
        elif w == "know" and prev == "you":
            before = words[i - 2] if i > 1 else ""
            if before not in _YOU_KNOW_NOT_AFTER:
                found.append("you know")
        elif w == "mean" and prev == "i":
            before = words[i - 2] if i > 1 else ""
            if before not in _I_MEAN_NOT_AFTER and nxt not in {"that", "it", "to"}:
                found.append("I mean")
        elif w == "like" and _like_is_filler(tok, prev, nxt):
            found.append("like")
        elif w == "so" and _so_is_filler(tok, nxt):
            found.append("so")
    return found


def _simple_name(w: str) -> str:
    w = re.sub(r"(.)\1+", r"\1", w)
    return {"uhm": "um", "mhm": "hmm", "hm": "hmm", "m": "hmm"}.get(w, w)


def _like_is_filler(tok: _Tok, prev: str, nxt: str) -> bool:
    if prev in _LIKE_NOT_AFTER:
        return False
    if tok.sentence_start or (tok.comma_before and tok.comma_after):
        return True
    if tok.comma_before and prev and not tok.sentence_start:
        return nxt in _LIKE_FILLER_NEXT or tok.comma_after
    return nxt in _LIKE_FILLER_NEXT


def _so_is_filler(tok: _Tok, nxt: str) -> bool:
    if nxt in _SO_NOT_BEFORE:
        return False
    if tok.sentence_start:
        return True
    return tok.comma_before and tok.comma_after


def find_hedges(text: str) -> list[str]:
    """Every hedge in ``text``, in order (normalised)."""
    words = _words(_tokens(text))
    found: list[str] = []
    for i, w in enumerate(words):
        prev = words[i - 1] if i > 0 else ""
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in {"maybe", "probably", "perhaps"}:
            found.append(w)
        elif w == "think" and prev == "i" and (words[i - 2] if i > 1 else "") not in {"do", "what"}:
            found.append("I think")
        elif w == "guess" and prev == "i":
            found.append("I guess")
        elif w in {"sort", "kind"} and nxt == "of" and prev not in _KIND_NOT_AFTER:
            found.append(f"{w} of")
    return found


def find_repeats(text: str) -> list[str]:
    """Immediate word repetitions ("the the"), fillers and a few grammatical
    doubles left out. A sentence boundary between the two breaks a repeat."""
    toks = _tokens(text)
    found: list[str] = []
    for a, b in zip(toks, toks[1:], strict=False):
        if a.text != b.text or b.sentence_start:
            continue
        if a.text in _REPEAT_OK or _SIMPLE_FILLER.match(a.text) or a.text.isdigit():
            continue
        found.append(f"{a.text} {b.text}")
    return found


def count_words(text: str) -> int:
    return len(_tokens(text))


# --- timing ------------------------------------------------------------------


def _as_triples(segments: Iterable[Any]) -> list[tuple[float, float, str]]:
    out = []
    for s in segments:
        if hasattr(s, "start"):
            out.append((float(s.start), float(s.end), str(getattr(s, "text", ""))))
        else:
            start, end, *rest = s
            out.append((float(start), float(end), str(rest[0]) if rest else ""))
    return sorted(out)


def _gaps(triples: Sequence[tuple[float, float, str]]) -> list[tuple[float, float]]:
    gaps = []
    for (_, end, _), (start, _, _) in zip(triples, triples[1:], strict=False):
        if start > end:
            gaps.append((end, start))
    return gaps


def speaking_time(
    segments: Iterable[Any],
    pauses: Iterable[tuple[float, float]] | None = None,
    excluded_pause_s: float = 3.0,
    duration_s: float | None = None,
    kept_of_long_pause_s: float = 0.0,
) -> float:
    """Seconds from the first to the last word, minus pauses of at least
    ``excluded_pause_s`` (all of each but ``kept_of_long_pause_s``).
    Without segments, ``duration_s`` (or 0)."""
    triples = _as_triples(segments)
    if not triples:
        return max(0.0, duration_s or 0.0)
    first, last = triples[0][0], max(e for _, e, _ in triples)
    gaps = list(pauses) if pauses is not None else _gaps(triples)
    skipped = sum(
        max(0.0, min(e, last) - max(s, first) - kept_of_long_pause_s)
        for s, e in gaps
        if e - s >= excluded_pause_s and min(e, last) > max(s, first)
    )
    return max(0.0, last - first - skipped)


def _voice(speech: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Voice-activity segments, sorted, empty ones dropped."""
    return sorted((float(s), float(e)) for s, e in speech if float(e) > float(s))


# --- the assessment ----------------------------------------------------------


def assess_delivery(
    text: str,
    segments: Iterable[Any] = (),
    pauses: Iterable[tuple[float, float]] | None = None,
    duration_s: float | None = None,
    thresholds: DeliveryThresholds | None = None,
    speech: Iterable[tuple[float, float]] | None = None,
) -> Delivery:
    """Delivery metrics of an answer. ``speech`` (voice activity: (start,
    end) of each stretch of speech) gives the speaking time, the pauses and
    the time to the first word; without it, ``pauses`` (also from voice
    activity) take precedence over the gaps between segments and
    ``duration_s`` is used for the pace when there are no segments."""
    th = thresholds or DeliveryThresholds()
    triples = _as_triples(segments)
    voiced = _voice(speech) if speech is not None else []
    first_word: float | None = None
    timing = "segments"
    if voiced:
        pause_list: list[tuple[float, float]] | None = _gaps([(s, e, "") for s, e in voiced])
        triples = [(voiced[0][0], max(e for _, e in voiced), "")]
        first_word = round(voiced[0][0], 2)
        timing = "voice activity"
    else:
        pause_list = [(float(s), float(e)) for s, e in pauses] if pauses is not None else None
    words = count_words(text)
    spoken = speaking_time(
        triples, pause_list, th.excluded_pause_s, duration_s, th.kept_of_long_pause_s
    )
    wpm = None
    if words >= th.min_words_for_pace and spoken > 0:
        wpm = round(words * 60.0 / spoken, 1)
    gaps = pause_list if pause_list is not None else _gaps(triples)
    long_pauses = tuple(
        (round(s, 2), round(e, 2)) for s, e in sorted(gaps) if e - s >= th.long_pause_s
    )
    fillers = tuple(Counter(find_fillers(text)).most_common())
    hedges = tuple(Counter(find_hedges(text)).most_common())
    repeats = tuple(find_repeats(text))
    pace = _pace_label(wpm, th)
    partial = Delivery(
        words=words,
        speaking_time_s=round(spoken, 2),
        wpm=wpm,
        pace=pace,
        fillers=fillers,
        hedges=hedges,
        long_pauses=long_pauses,
        repeats=repeats,
        first_word_s=first_word,
        timing=timing,
        thresholds=th,
    )
    return Delivery(**{**partial.__dict__, "notes": tuple(_notes(partial))})


def _pace_label(wpm: float | None, th: DeliveryThresholds) -> str | None:
    if wpm is None:
        return None
    if wpm > th.pace_max_wpm + th.pace_far_wpm:
        return "too fast"
    if wpm > th.pace_max_wpm:
        return "a little fast"
    if wpm < th.pace_min_wpm - th.pace_far_wpm:
        return "too slow"
    if wpm < th.pace_min_wpm:
        return "a little slow"
    return "comfortable"


def _range(th: DeliveryThresholds) -> str:
    return f"{th.pace_min_wpm:.0f}\u2013{th.pace_max_wpm:.0f}"


def _counts(pairs: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{w} \u00d7{n}" if n > 1 else w for w, n in pairs[:4])


def _notes(d: Delivery) -> list[str]:
    th = d.thresholds
    notes = []
    if d.wpm is None:
        notes.append("Too short to measure pace.")
    elif d.pace == "comfortable":
        notes.append(f"Pace {d.wpm:.0f} wpm: comfortable.")
    else:
        notes.append(f"Pace {d.wpm:.0f} wpm: {d.pace}; aim for {_range(th)}.")
    if d.words and d.filler_count:
        rate = d.fillers_per_100_words
        if rate > th.filler_per_100_words:
            notes.append(
                f"{d.filler_count} filler word{'s' * (d.filler_count > 1)} ({_counts(d.fillers)}): "
                f"{rate:.1f} per 100 words; pause silently instead."
            )
        else:
            notes.append(f"{d.filler_count} filler word{'s' * (d.filler_count > 1)}: fine.")
    if d.words and 100.0 * d.hedge_count / d.words > th.hedge_per_100_words:
        notes.append(
            f"Hedged {d.hedge_count} times ({_counts(d.hedges)}): state the point plainly."
        )
    if d.long_pauses:
        longest = max(e - s for s, e in d.long_pauses)
        n = len(d.long_pauses)
        notes.append(
            f"{n} pause{'s' * (n > 1)} of {th.long_pause_s:g} s or more "
            f"(longest {longest:.1f} s)."
        )
    if d.repeats:
        shown = ", ".join(f"'{r}'" for r in d.repeats[:3])
        notes.append(f"Repeated words: {shown}.")
    if d.first_word_s is not None and d.first_word_s >= th.first_word_note_s:
        notes.append(
            "A long silence before your first word: taking time to think is fine, but "
            "interviewers notice the silence; saying so (\"let me think about that\") fills it."
        )
    return notes
