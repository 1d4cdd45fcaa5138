"""Turning a Markdown Q&A article into a draft bank.

``import_markdown`` reads an article made of numbered question headings
(``## 1. ...``, ``### 30. ...``) each followed by an ``**Answer:**``
paragraph, and derives a draft rubric for every question: 3-7 key points
with phrasings and a follow-up probe, an id, topics and recogniser terms.
The result is a starting point for curation, not a finished bank.

Which headings are questions is decided by two rules, never by a count: the
numbers must continue the sequence 1, 2, 3, ... and (when the article marks
answers at all) a question must be followed by an Answer paragraph. An answer
ends at the next question, at a heading as prominent as its own, or at a run
of page furniture (tag lines, author blurbs) after its last sentence.

``bank_to_toml`` (in :mod:`questions.toml_writer`, importable from here too)
writes the TOML format of ``bank_format.md``; loading its output gives back an
equal bank.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from questions.bank_check import MAX_KEY_POINTS, MIN_KEY_POINTS, probe_giveaway, probe_problem
from questions.model import Bank, KeyPoint, Question
from questions.toml_writer import bank_to_toml, toml_multiline, toml_string

MAX_ID_WORDS = 4
MAX_TERMS = 12

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(?:Q(?:uestion)?\s*)?(\d{1,4})\s*[.):]\s+(\S.*)$", re.IGNORECASE)
_ANSWER_STRICT = re.compile(
    r"^\s*(?:\*\*|__)\s*(?:Answer|A)\s*:?\s*(?:\*\*|__)\s*:?|^\s*Answer\s*:", re.I
)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BOLD_LEAD = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*(.*)$")
_ACRONYM_DEF = re.compile(
    r"([A-Za-z][\w'’-]*(?:[ \t]+[\w'’-]+){0,7}?)\s*\(\s*([A-Z][A-Za-z0-9]{1,9}s?)\s*\)"
)
_ACRONYM = re.compile(r"\b([A-Z][a-z]?[A-Z][A-Za-z0-9]{0,6}|[A-Z]{2,8})s?\b")

STOPWORDS = frozenset(
    """a an and are as at be been being both but by can could do does did for from has
    have having how however if in into is it its it's itself may might more most much
    not of on once only or other our over own same should so some such than that the
    their them then there these they this those through to too under until up very was
    we were what when where whether which while who whom why will with within without
    would you your e.g i.e etc also like using used use each any all many several
    between across via per unlike instead even still just about against among""".split()
)
PROMPT_FILLER = frozenset(
    """what how why when which who does do is are can the a an in of for and to role
    purpose significance impact difference between used use help helps work works
    explain describe mean means key steps involved llm llms large language model models
    it its on you need during""".split()
)
SMALL_WORDS = frozenset({"of", "from", "and", "the", "for", "to", "in", "on", "with", "a", "an"})

TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "rag": ("retrieval", "rag", "vector store", "vector index", "nearest neighbor", "agentic"),
    "fine-tuning": ("fine-tun", "peft", "lora", "forgetting", "elastic weight", "distillation"),
    "transformers": (
        "transformer",
        "attention",
        "positional",
        "layer normalization",
        "encoder",
        "decoder",
        "context window",
    ),
    "decoding": ("beam search", "greedy", "top-k", "top-p", "sampling", "decoding"),
    "prompting": ("prompt", "chain-of-thought", "zero-shot", "few-shot", "in-context"),
    "efficiency": (
        "quantization",
        "pruning",
        "mixture of experts",
        "parallelism",
        "checkpointing",
        "speed up",
        "efficien",
        "parameter sharing",
        "multi-query",
    ),
    "training": (
        "training",
        "curriculum",
        "hyperparameter",
        "scaling law",
        "multi-task",
        "contrastive",
        "synthetic data",
        "meta-learning",
        "pre-training",
    ),
    "alignment": ("rlhf", "reward", "bias", "fairness", "alignment", "human feedback"),
    "tokenization": ("tokeniz", "byte pair", "wordpiece", "subword", "vocabulary"),
    "embeddings": ("embedding", "representation"),
    "multimodal": ("multi-modal", "multimodal", "image", "vision"),
    "knowledge": ("knowledge graph",),
}
MAX_TOPICS = 3

# Headings and lines that close an article: what follows is the site's, not the author's.
_END_MARKER = re.compile(
    r"^(responses|comments|more from|recommended|related (posts|articles|stories)|"
    r"written by|about the author|see all from|share this)\b",
    re.IGNORECASE,
)

# Sentences that speak to the reader rather than answer the question.
_PROMO = re.compile(
    r"\b(good luck|explore our|for more examples|subscribe|follow me|clap|sign up|"
    r"read more|newsletter|check out)\b",
    re.IGNORECASE,
)


# ---------------------------------------------------------------- article structure


@dataclass(frozen=True)
class _Block:
    """A paragraph-like unit of the article."""

    kind: str  # "heading", "bullet", "text", "code", "blank"
    text: str
    line: int
    level: int = 0


def _blocks(text: str) -> list[_Block]:
    """Split Markdown into headings, bullets, text lines and code blocks."""
    out: list[_Block] = []
    fence: str | None = None
    code: list[str] = []
    code_line = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.replace("\u00a0", " ").rstrip()
        if fence is not None:
            if line.strip().startswith(fence):
                out.append(_Block("code", "\n".join(code), code_line))
                fence, code = None, []
            else:
                code.append(line)
            continue
        m = _FENCE.match(line)
        if m:
            fence, code_line = m.group(1), number
            continue
        if not line.strip():
            out.append(_Block("blank", "", number))
            continue
        m = _HEADING.match(line)
        if m:
            out.append(_Block("heading", m.group(2), number, len(m.group(1))))
            continue
        m = _BULLET.match(line)
        if m and m.group(1).strip():
            out.append(_Block("bullet", m.group(1).strip(), number))
            continue
        out.append(_Block("text", line.strip(), number))
    if fence is not None and code:
        out.append(_Block("code", "\n".join(code), code_line))
    return _join_broken_lines(out)


def _join_broken_lines(blocks: list[_Block]) -> list[_Block]:
    """Re-join paragraphs split mid-sentence (the next piece starts in lower
    case), as copy-pasted web articles often are."""
    out: list[_Block] = []
    for b in blocks:
        if b.kind == "text" and b.text[:1].islower():
            for k in range(len(out) - 1, -1, -1):
                prev = out[k]
                if prev.kind == "blank":
                    continue
                if prev.kind in ("text", "bullet") and not prev.text.endswith((".", "!", "?", ":")):
                    out[k] = _Block(prev.kind, f"{prev.text} {b.text}", prev.line, prev.level)
                    out = out[: k + 1]
                    b = None  # type: ignore[assignment]
                break
            if b is None:
                continue
        out.append(b)
    return out


@dataclass(frozen=True)
class _Section:
    number: int
    heading: str
    line: int
    level: int
    body: tuple[_Block, ...]


def _numbered(block: _Block) -> tuple[int, str] | None:
    if block.kind != "heading":
        return None
    m = _NUMBERED.match(_strip_inline(block.text))
    if not m:
        return None
    return int(m.group(1)), m.group(2).strip()


def _has_answer(body: list[_Block]) -> bool:
    for b in body:
        if b.kind == "blank":
            continue
        return b.kind == "text" and bool(_ANSWER_STRICT.match(b.text))
    return False


def _article_end(blocks: list[_Block], start: int) -> int:
    """Index of the first block after ``start`` that closes the article
    (comments, author box, recommendations), else ``len(blocks)``."""
    for k in range(start + 1, len(blocks)):
        b = blocks[k]
        if b.kind == "heading" or (b.kind == "text" and len(b.text.split()) <= 8):
            if _END_MARKER.match(_strip_inline(b.text)):
                return k
    return len(blocks)


def _sections(blocks: list[_Block]) -> list[_Section]:
    """Find the question sections: numbered headings continuing 1, 2, 3, ...
    whose body opens with an Answer paragraph (if the article uses them),
    up to the end of the article proper."""
    uses_answers = any(b.kind == "text" and _ANSWER_STRICT.match(b.text) for b in blocks)
    first = next(
        (
            i
            for i, b in enumerate(blocks)
            if (_numbered(b) or (0, ""))[0] == 1
            and (not uses_answers or _has_answer(blocks[i + 1 : i + 40]))
        ),
        None,
    )
    if first is None:
        return []
    blocks = blocks[: _article_end(blocks, first)]
    candidates = [i for i, b in enumerate(blocks) if _numbered(b)]

    def body_of(i: int) -> list[_Block]:
        level = blocks[i].level
        body: list[_Block] = []
        for b in blocks[i + 1 :]:
            if b.kind == "heading" and (b.level <= level or _numbered(b)):
                break
            body.append(b)
        return body

    sections: list[_Section] = []
    expected = 1
    for i in candidates:
        number, heading = _numbered(blocks[i])  # type: ignore[misc]
        if number != expected:
            continue
        body = body_of(i)
        if uses_answers and not _has_answer(body):
            continue
        body = _trim_furniture(body)
        if not _answer_paragraphs(body):
            continue
        sections.append(_Section(number, heading, blocks[i].line, blocks[i].level, tuple(body)))
        expected += 1
    return sections


def _is_furniture(block: _Block) -> bool:
    """A short line that is not a sentence: a tag, a byline, a button label."""
    if block.kind != "text":
        return False
    text = _strip_inline(block.text)
    if _ANSWER_STRICT.match(block.text):
        return False
    return len(text.split()) < 6 and not text.rstrip().endswith((".", "!", "?", ":"))


def _trim_furniture(body: list[_Block]) -> list[_Block]:
    """Cut the body at the first piece of page furniture after the answer
    has begun: what follows it is the page, not the answer."""
    seen_content = False
    for k, b in enumerate(body):
        if b.kind in ("text", "bullet", "code"):
            if seen_content and _is_furniture(b):
                return body[:k]
            seen_content = True
    return body


# ---------------------------------------------------------------- inline markdown


def _strip_inline(text: str) -> str:
    """Remove inline Markdown: images, links, emphasis, code ticks, escapes."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?!\s)([^_]+?)(?<!\s)_(?![\w_])", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!$])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    if text.endswith((".", "!", "?", ",", ";")) or re.search(r"\b(and|or|while|but)$", text):
        return text
    if text.endswith(":"):
        return text[:-1].rstrip() + "."
    return text + "."


def _answer_paragraphs(body: list[_Block] | tuple[_Block, ...]) -> list[tuple[str, str]]:
    """The answer as (kind, plain text) pieces: ``lead``, ``bullet``, ``text``."""
    out: list[tuple[str, str]] = []
    for b in body:
        if b.kind in ("blank", "code"):
            continue
        if b.kind == "heading":
            continue  # a sub-heading titles what follows; it is not part of the answer
        raw = b.text
        if b.kind == "text":
            m = _ANSWER_STRICT.match(raw)
            if m:
                raw = raw[m.end() :]
            plain = _strip_inline(raw)
            if not plain or _PROMO.search(plain):
                continue
            out.append(("text", plain))
        else:
            plain = _strip_inline(raw)
            if plain:
                out.append(("bullet", raw))
    return out


def _bullet_parts(raw: str) -> tuple[str | None, str]:
    """Split ``**Term:** explanation`` into (term, plain sentence)."""
    m = _BOLD_LEAD.match(raw)
    if m:
        term = _strip_inline(m.group(1)).rstrip(":").strip()
        rest = _strip_inline(m.group(2)).lstrip(":").strip()
        if term and len(term.split()) <= 8:
            if m.group(1).rstrip().endswith(":") or m.group(2).lstrip().startswith(":"):
                return term, f"{term}: {rest}" if rest else term
            return term, f"{term} {rest}".strip()
    return None, _strip_inline(raw)


def _reference(pieces: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for kind, text in pieces:
        if kind == "bullet":
            parts.append(_sentence(_bullet_parts(text)[1]))
        else:
            parts.append(text)
    return re.sub(r"\s+", " ", " ".join(p for p in parts if p)).strip()


# ---------------------------------------------------------------- acronyms and terms


def _match_acronym(words: list[str], acronym: str) -> list[str] | None:
    """The shortest tail of ``words`` whose initials spell ``acronym``.

    Hyphenated words count one letter per part ("Fine-Tuning" -> F, T); small
    words ("of", "from") may be skipped once matching has begun.
    """
    core = acronym[:-1] if len(acronym) > 2 and acronym.endswith("s") else acronym
    found = _match_letters(words, [c.lower() for c in core if c.isalnum()])
    if found is None and any(c.islower() for c in core):
        # Lower-case letters may come from inside a word: LoRA = Low-Rank Adaptation.
        found = _match_letters(words, [c.lower() for c in core if c.isupper() or c.isdigit()])
    return found


def _match_letters(words: list[str], letters: list[str]) -> list[str] | None:
    if len(letters) < 2:
        return None
    remaining = len(letters)
    for k in range(len(words) - 1, -1, -1):
        parts = [p for p in re.split(r"[-‐]", words[k].strip("'’")) if p]
        initials = [p[0].lower() for p in parts]
        n = len(initials)
        if 0 < n <= remaining and letters[remaining - n : remaining] == initials:
            remaining -= n
            if remaining == 0:
                return words[k:]
        elif remaining < len(letters) and words[k].lower() in SMALL_WORDS:
            continue
        else:
            return None
    return None


def _acronym_table(text: str) -> dict[str, str]:
    """Acronym -> expansion for every ``Expansion Words (ACR)`` in the text."""
    table: dict[str, str] = {}
    for m in _ACRONYM_DEF.finditer(_strip_inline(text)):
        acronym = m.group(2)
        words = m.group(1).split()
        found = _match_acronym(words, acronym)
        if found:
            key = acronym[:-1] if acronym.endswith("s") and acronym[:-1].isupper() else acronym
            table.setdefault(key, " ".join(found).strip("'’"))
    return table


def _acronyms_in(text: str) -> list[str]:
    out: list[str] = []
    for m in _ACRONYM.finditer(text):
        word = m.group(1)
        if word not in out:
            out.append(word)
    return out


# ---------------------------------------------------------------- rubric derivation


def _content_words(text: str) -> list[str]:
    return [
        w
        for w in re.findall(r"[A-Za-z][A-Za-z0-9'’-]*", text.lower())
        if w not in STOPWORDS and len(w) > 2
    ]


def _runs(text: str) -> list[list[str]]:
    """The runs of consecutive content words of ``text``, as written."""
    runs: list[list[str]] = []
    run: list[str] = []
    for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*|[^\sA-Za-z0-9]", text):
        low = token.lower()
        if re.match(r"[a-z0-9]", low) and low not in STOPWORDS and len(low) > 1:
            run.append(token)
        else:
            if run:
                runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _phrases(text: str, limit: int = 3) -> list[str]:
    """Runs of 2-4 content words (noun-phrase-like chunks) from ``text``."""
    runs = [[w.lower() for w in r] for r in _runs(text)]
    chunks = [" ".join(r[:4]) for r in runs if len(r) >= 2]
    chunks.sort(key=lambda c: -len(c.split()))
    out: list[str] = []
    for c in chunks:
        if c not in out:
            out.append(c)
    return out[:limit]


def _acronym_phrasings(text: str, acronyms: dict[str, str]) -> list[str]:
    out: list[str] = []
    low = text.lower()
    for acr, expansion in acronyms.items():
        if re.search(rf"\b{re.escape(acr)}s?\b", text) or expansion.lower() in low:
            out.extend([acr, expansion.lower()])
    return out


def _clauses(sentence: str) -> list[str]:
    """Split a long sentence into clauses at clause-linking punctuation."""
    parts = re.split(
        r",\s+(?=(?:where|which|while|whereas|but|as|leading|making|allowing|enabling|"
        r"reducing|helping|ensuring|thus|so|because)\b)|;\s+|\s+—\s+|\s+-\s+",
        sentence,
    )
    return [p.strip(" ,;") for p in parts if len(p.split()) >= 4]


_FINE_CUT = re.compile(r",\s+(?=[a-z]+ing\b)|\s+(?=by\s+[a-z]+ing\b)|\s+(?=while\s)")


def _fine_clauses(clause: str) -> list[str]:
    """Split a clause further (before participles, 'by ...ing', 'while'),
    keeping every part at least three words long; used only for answers too
    short to give three ideas otherwise."""
    parts: list[str] = []
    last = 0
    for m in _FINE_CUT.finditer(clause):
        head, rest = clause[last : m.start()], clause[m.end() :]
        if len(head.split()) >= 3 and len(rest.split()) >= 3:
            parts.append(head.strip(" ,;"))
            last = m.end()
    parts.append(clause[last:].strip(" ,;"))
    return parts


def _sentences(text: str) -> list[str]:
    pieces = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])", text)
    return [p.strip() for p in pieces if p.strip()]


def _score(text: str, prompt_words: set[str]) -> float:
    words = set(_content_words(text))
    fresh = words - prompt_words
    return len(fresh) + 0.5 * len(words & prompt_words)


_LEADING_LINK = re.compile(
    r"^(?:where|which|whereas|while|as|but|however|thus|so|because|in contrast|and)\b,?\s+",
    re.I,
)
_TRAILING_LINK = re.compile(r"[,;]?\s*\b(?:and|or|while|but|whereas)\s*[,.]?$", re.I)


def _finish_sentence(text: str) -> str:
    text = _TRAILING_LINK.sub("", text.strip())
    text = _LEADING_LINK.sub("", text).strip().rstrip(",;:")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


PROBE_LEAD = "Can you say more about the"
PROBE_FALLBACKS = (
    "What else would you add to your answer on this?",
    "Is there anything important you would add to that answer?",
)


_NOUN_ENDING = re.compile(
    r"(tion|sion|ment|ness|ity|ance|ence|ency|ure|ism|ics|ogy|ship|age|er|or|ist|al)s?$"
)
_NOT_NOUN = re.compile(r"(ly|ing|ed|ful|ive|ous|able|ible)$")
NOT_NOUNS = frozenset(
    """since whose crucial based related essential important vital particularly
    achieved optimal typically often generally directly""".split()
)


def _nounish(word: str) -> bool:
    """Whether ``word`` can head a noun phrase (a guess from its ending)."""
    low = word.lower()
    return low not in NOT_NOUNS and not _NOT_NOUN.search(low)


def _probe(text: str, phrasings: tuple[str, ...], prompt: str) -> str:
    """A plain follow-up question for a key point, "Can you say more about
    the <noun phrase>?", that never says one of the point's phrasings (the
    rule ``bank validate`` applies). The noun phrase is the last one or two
    words of a run of content words of the point (English noun phrases end in
    their head noun), preferring a head with a noun's ending and words the
    question does not already use."""
    prompt_words = set(_content_words(prompt))
    candidates: list[tuple[int, int, int, str]] = []
    for position, run in enumerate(_runs(text)):
        words = [w for w in run if not w.isdigit()]
        for size in (2, 1):
            if len(words) < size:
                continue
            tail = [w if w.isupper() else w.lower() for w in words[-size:]]
            if not all(_nounish(w) for w in tail):
                continue
            if size == 2 and re.search(r"[^su]s$", tail[0]):
                continue  # a modifier is singular: "model weights", not "model mimics"
            head = 0 if tail[-1].isupper() or _NOUN_ENDING.search(tail[-1]) else 1
            fresh = sum(w.lower() not in prompt_words for w in tail)
            candidates.append((head, -fresh, position * 2 + (2 - size), " ".join(tail)))
    for *_, phrase in sorted(candidates):
        probe = f"{PROBE_LEAD} {phrase}?"
        if probe_problem(probe) is None and probe_giveaway(probe, phrasings) is None:
            return probe
    for probe in PROBE_FALLBACKS:
        if probe_giveaway(probe, phrasings) is None:
            return probe
    return ""


def _key_point(text: str, term: str | None, acronyms: dict[str, str], prompt: str) -> KeyPoint:
    """A key point from a sentence (or a bold-term bullet). Its phrasings are
    the term, acronyms <-> expansions not already in the question (those would
    match any answer), and the sentence's content-word chunks."""
    phrasings: list[str] = []
    if term:
        phrasings.append(term.lower() if not term.isupper() else term)
        for acr, expansion in acronyms.items():
            if term.lower() == expansion.lower() or term == acr:
                phrasings.extend([acr, expansion.lower()])
    in_prompt = {p.lower() for p in _acronym_phrasings(prompt, acronyms)}
    phrasings.extend(p for p in _acronym_phrasings(text, acronyms) if p.lower() not in in_prompt)
    if term:
        # The idea is the first sentence of the bullet; the rest is detail.
        text = _sentences(text)[0] if _sentences(text) else text
    phrasings.extend(_phrases(text.split(":", 1)[-1] if term else text))
    clean: list[str] = []
    for p in phrasings:
        p = p.strip(" .,:;")
        if p and p.lower() not in (c.lower() for c in clean) and len(p.split()) <= 6:
            clean.append(p)
    text = _finish_sentence(text)
    kept = tuple(clean[:6])
    return KeyPoint(text=text, weight=1.0, phrasings=kept, probe=_probe(text, kept, prompt))


def _derive_key_points(
    pieces: list[tuple[str, str]], prompt: str, acronyms: dict[str, str]
) -> tuple[KeyPoint, ...]:
    prompt_words = set(_content_words(prompt))
    from_bullets: list[tuple[str | None, str]] = []
    for kind, raw in pieces:
        if kind == "bullet":
            term, text = _bullet_parts(raw)
            if len(text.split()) >= 2:
                from_bullets.append((term, text))
    points = [_key_point(t, term, acronyms, prompt) for term, t in from_bullets]
    points = points[:MAX_KEY_POINTS]
    if len(points) < MIN_KEY_POINTS:
        candidates: list[str] = []
        for kind, text in pieces:
            if kind != "text":
                continue
            for s in _sentences(text):
                if s.rstrip().endswith(":"):
                    continue  # a lead-in to a list, not an idea of its own
                candidates.extend(_clauses(s) or [s])
        for longest in sorted(candidates, key=lambda c: -len(c.split())):
            if len(candidates) + len(points) >= MIN_KEY_POINTS:
                break
            k = candidates.index(longest)
            candidates[k : k + 1] = _fine_clauses(longest)
        taken = {p.text.lower() for p in points}
        ranked = sorted(
            range(len(candidates)), key=lambda i: (-_score(candidates[i], prompt_words), i)
        )
        want = max(MIN_KEY_POINTS - len(points), min(MAX_KEY_POINTS - len(points), 4))
        chosen: list[int] = []
        for i in ranked:
            if len(chosen) >= want:
                break
            if _finish_sentence(candidates[i]).lower() not in taken:
                chosen.append(i)
        for i in sorted(chosen):
            points.append(_key_point(candidates[i], None, acronyms, prompt))
    seen: set[str] = set()
    unique: list[KeyPoint] = []
    for p in points:
        if p.text.lower() not in seen and p.text:
            seen.add(p.text.lower())
            unique.append(p)
    fillers = [
        (
            f"The answer addresses: {prompt}",
            "How would you answer the question in a sentence or two?",
        ),
        ("It gives a concrete example.", "Can you walk me through a concrete case of this?"),
        (
            "It names a limitation or trade-off.",
            "Where does this fall short, and what does it cost?",
        ),
    ]
    for text, probe in fillers:
        if len(unique) >= MIN_KEY_POINTS:
            break
        phrasings = tuple(_phrases(prompt))
        if probe_giveaway(probe, phrasings) is not None:
            probe = _probe(text, phrasings, prompt)
        unique.append(KeyPoint(text=text, phrasings=phrasings, probe=probe))
    return tuple(unique[:MAX_KEY_POINTS])


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _question_id(prompt: str, acronyms: dict[str, str], taken: set[str]) -> str:
    text = _strip_inline(prompt)
    for acr, expansion in acronyms.items():
        text = re.sub(
            rf"{re.escape(expansion)}\s*\(\s*{re.escape(acr)}\s*\)", acr, text, flags=re.IGNORECASE
        )
    words = [w for w in re.findall(r"[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*", text)]
    keep = [w for w in words if w.lower() not in PROMPT_FILLER and w.lower() not in STOPWORDS]
    if not keep:
        keep = words
    base = _slug("-".join(keep[:MAX_ID_WORDS])) or "question"
    qid, n = base, 2
    while qid in taken:
        qid, n = f"{base}-{n}", n + 1
    taken.add(qid)
    return qid


def _topics(prompt: str, reference: str) -> tuple[str, ...]:
    def match(text: str) -> list[str]:
        low = text.lower()
        return [t for t, words in TOPIC_KEYWORDS.items() if any(w in low for w in words)]

    found = match(prompt) or match(reference) or ["general"]
    return tuple(found[:MAX_TOPICS])


def _terms(pieces: list[tuple[str, str]], prompt: str, acronyms: dict[str, str]) -> tuple[str, ...]:
    text = prompt + " " + " ".join(_strip_inline(t) for _, t in pieces)
    terms: list[str] = []
    for acr in _acronyms_in(text):
        terms.append(acr)
        if acr in acronyms:
            terms.append(acronyms[acr])
    for kind, raw in pieces:
        if kind == "bullet":
            term, _ = _bullet_parts(raw)
            if term and len(term.split()) <= 4:
                terms.append(term)
    out: list[str] = []
    for t in terms:
        if t.lower() not in (o.lower() for o in out):
            out.append(t)
    return tuple(out[:MAX_TERMS])


def _spoken(prompt: str, acronyms: dict[str, str]) -> str | None:
    """The prompt with parenthesised acronyms dropped, for reading aloud."""
    spoken = prompt
    for acr in acronyms:
        spoken = re.sub(rf"\s*\(\s*{re.escape(acr)}\s*\)", "", spoken)
    spoken = re.sub(r"[“”]", "", spoken).replace("’", "'")
    spoken = re.sub(r"\s+", " ", spoken).strip()
    return spoken if spoken and spoken != prompt else None


def _title(blocks: list[_Block], first_line: int, fallback: str) -> str:
    for b in blocks:
        if b.line >= first_line:
            break
        if b.kind == "heading" and b.level == 1 and not _numbered(b):
            return _strip_inline(b.text)
    return fallback


def import_markdown(text: str, source_name: str = "") -> Bank:
    """Build a draft bank from a Markdown Q&A article (never raises on text)."""
    blocks = _blocks(text)
    sections = _sections(blocks)
    acronyms = _acronym_table(text)
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", source_name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _slug(stem) or "imported"
    questions: list[Question] = []
    taken: set[str] = set()
    for s in sections:
        prompt = _strip_inline(s.heading)
        pieces = _answer_paragraphs(s.body)
        reference = _reference(pieces)
        if not prompt or not reference:
            continue
        questions.append(
            Question(
                id=_question_id(prompt, acronyms, taken),
                prompt=prompt,
                reference=reference,
                key_points=_derive_key_points(pieces, prompt, acronyms),
                seed=s.number,
                spoken=_spoken(prompt, acronyms),
                topics=_topics(prompt, reference),
                difficulty=2,
                terms=_terms(pieces, prompt, acronyms),
                line=s.line,
            )
        )
    first = sections[0].line if sections else math.inf
    title = _title(blocks, first, stem or "Imported questions")  # type: ignore[arg-type]
    return Bank(
        name=name, title=title or "Imported questions", questions=tuple(questions), path=source_name
    )


__all__ = ["bank_to_toml", "import_markdown", "toml_multiline", "toml_string"]
