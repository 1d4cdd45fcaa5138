"""The rubric matcher: grade a spoken answer against a reference and its key points.

How a grade is made (all deterministic; no I/O apart from loading the
embedding model once, see :func:`load`):

1. The answer is normalised (:mod:`questions.normalize`): fillers and
   repetitions go, number words become digits, each word keeps its offsets.
2. Every content word of the rubric text (the reference, each key point and
   its phrasings) is aligned with its most similar answer word. Similarity is
   the larger of a lexical match (same word, same stem, sound-alike,
   near-spelling, split/merged compound) and the cosine of contextual word
   embeddings from all-MiniLM-L6-v2 (:mod:`questions.semantic`).
3. Words of the question are demoted: repeating the question earns (almost)
   nothing. Rare words weigh more than common ones (the model vocabulary is
   frequency ordered, which gives a corpus-free rarity weight).
4. Polarity is compared word by word: a rubric word matched by an answer word
   under a negation ("you do not need a vector store") does not count, and a
   misconception stated negated is not a misconception.
5. Key points are searched in windows of the answer, so each covered point
   points at the words that covered it. The score mixes key-point credit with
   the whole-answer alignment and subtracts misconception penalties. With a
   curated rubric a point's credit is what its verdict says (all of its
   weight when covered, half when partial, none when missed:
   ``STATUS_CREDIT``), so the score never disagrees with the verdicts.
6. The whole-answer alignment is a recall-weighted F-measure. Against a bare
   reference it uses the plain word cosine (graded closeness): on human-graded
   answers this follows people better than a thresholded similarity. Against
   a curated rubric (explicit key points) it uses the stricter similarity, so
   a fluent answer to a neighbouring question does not collect credit from
   loosely related words. Words inside a reference's examples ("e.g. ...")
   weigh less; an answer may illustrate the point its own way.
7. A small sentence-level term adds how much closer the whole answer is to
   the reference than to the question. A plain answer-reference cosine would
   reward being on topic, which restating the question already achieves.
8. A reference that opens with a verdict ("No.", "Yes.", "A.") makes the
   verdict part of the answer: opening with another one is reported like a
   misconception and most of the score goes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from questions import meaning, structure
from questions import normalize as nz
from questions.assessment import (
    STATUS_CREDIT,
    Assessment,
    Evidence,
    KeyPointResult,
    MisconceptionResult,
    Status,
)
from questions.model import KeyPoint, Misconception, Question

# --- a few general constants (tuned by question groups on development data) ---
COS_FLOOR = 0.33
"""Contextual cosine at or below which two words count as unrelated."""
COS_CEIL = 0.85
"""Contextual cosine at or above which two words count as the same idea."""
QUESTION_WEIGHT = 0.1
"""Weight of a rubric word that also appears in the question (parroting)."""
PARROT_FACTOR = 0.5
"""Semantic similarity earned through an answer word taken from the question."""
COVERED_AT = 0.72
PARTIAL_AT = 0.45
"""Key-point similarity thresholds for covered / partial."""
CREDIT_LOW, CREDIT_HIGH = 0.55, 0.8
"""Key-point similarity mapped linearly to credit 0..1 between these."""
CONTRADICTION_FACTOR = 0.2
"""Similarity kept by a key-point window whose matched words have the opposite polarity."""
MISCONCEPTION_AT = 0.8
"""Similarity at which a misconception counts as stated."""
MIX_KEYPOINTS = 0.8
"""Share of the rubric's key points in the recall when the rubric is explicit
(the rest is the alignment with the whole reference)."""
MIX_CONTRAST = 0.1
"""Weight of the sentence-level contrast in the raw score: how much closer the
whole answer is to the reference than to the question (sentence embeddings).
A plain answer-reference cosine rewards being on topic, which restating the
question achieves; the contrast rewards only what the reference adds."""
RECALL_BETA = 3.0
"""F-beta of recall and precision: covering the reference matters more than staying brief."""
SCORE_LOW, SCORE_HIGH = 0.15, 0.75
"""Raw score mapped linearly to 0..1 between these (a faithful paraphrase reaches about 0.75)."""
FLIP_AT, FLIP_FACTOR = 0.6, 0.5
"""A reference word matched (at least FLIP_AT) by an answer word of the
opposite polarity keeps only FLIP_FACTOR of its similarity in the alignment."""
EXAMPLE_WEIGHT = 0.3
"""Weight of a rubric word inside an example ("e.g. ...", "for example ..."):
an answer may illustrate the point differently, or not at all."""
WRONG_CHOICE_FACTOR = 0.3
"""Share of the score kept when the answer opens with a different verdict
than the reference ("Yes." where the reference says "No.", "B." for "A.")."""
VERDICTS = (
    frozenset({"yes", "no"}),
    frozenset({"agree", "disagree"}),
    frozenset({"true", "false"}),
    frozenset("abcdefghxyz"),
)
"""Sets of mutually exclusive verdicts a question may ask for (letters: options)."""
TOO_SHORT_WORDS = 12
EMBED_STOPWORDS = True
"""Whether function words are given to the embedding model (see _embed_view;
leaving them out halves the forward pass but cost about 0.04 Mohler r)."""


@dataclass(frozen=True)
class _Unit:
    """A rubric text prepared for matching."""

    text: str
    words: tuple[str, ...]
    content: tuple[int, ...]
    """Indices (into ``words``) of content words."""
    weights: tuple[float, ...]
    negated: tuple[bool, ...]
    joined: tuple[tuple[str, int, int], ...]
    """Adjacent content-word pairs glued together ("data set" -> "dataset")."""
    items: tuple[int, ...] = ()
    """Per content word: the enumerated item (or sentence) of the text it is in."""


@dataclass(frozen=True)
class _Answer:
    text: str
    toks: tuple[nz.Token, ...]
    content: tuple[int, ...]
    weights: tuple[float, ...]
    negated: tuple[bool, ...]
    parrot: tuple[bool, ...]
    vectors: np.ndarray | None
    sentence: np.ndarray | None


_SEM_LOCK = threading.Lock()
_SEM_STATE: dict[str, bool] = {}


def load() -> bool:
    """Load the embedding model now (call from a background thread at start-up).

    Returns False when the model cannot be loaded; grading then falls back to
    lexical matching."""
    from questions import semantic

    with _SEM_LOCK:
        if "ok" in _SEM_STATE:
            return _SEM_STATE["ok"]
        try:
            semantic.load()
            ok = True
        except semantic.SemanticUnavailable:
            ok = False
        _SEM_STATE["ok"] = ok
        return ok


warm_up = load


def _rarity(word: str) -> float:
    from questions.semantic import vocabulary_ranks

    if word.isdigit():
        return 0.8
    rank = vocabulary_ranks().get(word)
    if rank is None:
        return 1.0
    lo, hi = math.log(2000), math.log(30000)
    x = (math.log(max(rank, 2000)) - lo) / (hi - lo)
    return 0.35 + 0.65 * min(1.0, max(0.0, x))


def _token_rarity(t: nz.Token, text: str) -> float:
    """Rarity of a token as it was written or said. Number words are
    normalised to digits, but a spelled-out "one" is mostly a pronoun or a
    determiner ("the one that", "at one time"), so a number said as a word
    weighs like that word; written digits keep the weight of a number."""
    if t.norm.isdigit():
        surface = text[t.start : t.end].lower()
        if surface.isalpha():
            return _rarity(surface)
    return _rarity(t.norm)


@lru_cache(maxsize=1024)
def _question_stems(question: str) -> frozenset[str]:
    return frozenset(t.stem for t in nz.tokens(question) if not t.is_stop)


@lru_cache(maxsize=1024)
def _unit(text: str, question: str) -> _Unit:
    toks = nz.tokens(text)
    qstems = _question_stems(question)
    neg = nz.negated_positions(toks)
    example, abbrev = nz.asides(toks, text)
    content = tuple(
        i for i, t in enumerate(toks) if not t.is_stop and not t.is_negation and not abbrev[i]
    )
    weights = tuple(
        _token_rarity(toks[i], text)
        * (QUESTION_WEIGHT if toks[i].stem in qstems else 1.0)
        * (EXAMPLE_WEIGHT if example[i] else 1.0)
        for i in content
    )
    joined = tuple(
        (toks[a].norm + toks[b].norm, ka, ka + 1)
        for ka, (a, b) in enumerate(zip(content, content[1:], strict=False))
        if b == a + 1
    )
    spans = structure.item_spans(text)
    items = tuple(
        next((k for k, (a, b) in enumerate(spans) if a <= toks[i].start < b), len(spans) - 1)
        for i in content
    )
    return _Unit(
        text=text,
        words=tuple(t.norm for t in toks),
        content=content,
        weights=weights,
        negated=tuple(neg[i] for i in content),
        joined=joined,
        items=items,
    )


@dataclass(frozen=True)
class _Rubric:
    """Everything about a question's rubric that does not depend on the answer:
    its texts prepared as units, their content words indexed for lexical
    matching and (with the model) their contextual word vectors stacked in
    one matrix, all computed once per question in one forward pass."""

    question: str
    units: dict[str, _Unit]
    vocab: tuple[str, ...]
    """Distinct content words of all units."""
    index: nz.LexicalIndex
    word_ids: dict[str, np.ndarray]
    """Per unit text: the vocab index of each content word."""
    rows: dict[str, slice]
    """Per unit text: its rows in ``vectors``."""
    vectors: np.ndarray | None
    sentences: dict[str, np.ndarray]
    vocab_rows: tuple[np.ndarray, ...] = ()
    """Per vocab word: the rows of ``vectors`` that hold it."""
    question_sentence: np.ndarray | None = None
    """Sentence vector of the question (for the contrast, see MIX_CONTRAST)."""
    pooled: dict[str, np.ndarray] | None = None
    """Per unit text: the rarity-weighted mean of its content-word vectors,
    comparable with the pooled vectors of the answer's spans (see
    :mod:`questions.meaning`)."""


_RUBRIC_LOCK = threading.Lock()


@lru_cache(maxsize=256)
def _rubric(question: str, texts: tuple[str, ...], semantic: bool) -> _Rubric:
    units = {t: _unit(t, question) for t in dict.fromkeys(texts)}
    vocab: dict[str, int] = {}
    word_ids: dict[str, np.ndarray] = {}
    for t, u in units.items():
        ids = [vocab.setdefault(u.words[i], len(vocab)) for i in u.content]
        word_ids[t] = np.asarray(ids, np.intp)
    rows: dict[str, slice] = {}
    vectors = None
    sentences: dict[str, np.ndarray] = {}
    question_sentence = None
    pooled = None
    if semantic:
        from questions.semantic import embed_batch

        views = [_embed_view(u.words, u.content) for u in units.values()]
        qwords = tuple(t.norm for t in nz.tokens(question))
        with _RUBRIC_LOCK:
            embedded = embed_batch([v[0] for v in views] + [qwords])
        *embedded, qv = embedded
        if qwords:
            question_sentence = qv.sentence
        blocks = []
        start = 0
        for (t, _u), wv, (_, pos) in zip(units.items(), embedded, views, strict=True):
            block = wv.vectors[list(pos)]
            blocks.append(block)
            rows[t] = slice(start, start + len(block))
            start += len(block)
            sentences[t] = wv.sentence
        vectors = np.ascontiguousarray(np.concatenate(blocks, axis=0), np.float32)
        pooled = {
            t: meaning.pooled(
                vectors[rows[t]], np.asarray(u.weights, np.float32), [range(len(u.content))]
            )[0]
            for t, u in units.items()
        }
    row_vocab = (
        np.concatenate([word_ids[t] for t in units]) if units else np.zeros(0, np.intp)
    )
    return _Rubric(
        question=question,
        units=units,
        vocab=tuple(vocab),
        index=nz.LexicalIndex(tuple(vocab)),
        word_ids=word_ids,
        rows=rows,
        vectors=vectors,
        sentences=sentences,
        vocab_rows=tuple(np.flatnonzero(row_vocab == v) for v in range(len(vocab)))
        if vectors is not None
        else (),
        question_sentence=question_sentence,
        pooled=pooled,
    )


def _embed_view(
    words: tuple[str, ...], content: tuple[int, ...]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The words given to the embedding model and where the content words sit
    among them. Without EMBED_STOPWORDS the function words are left out: the
    model then reads a keyword sequence (about half as many word pieces, so
    twice as fast) and the content words are embedded in each other's context."""
    if EMBED_STOPWORDS:
        return words, content
    keep = [i for i, w in enumerate(words) if w not in nz.STOPWORDS]
    at = {i: j for j, i in enumerate(keep)}
    return tuple(words[i] for i in keep), tuple(at[i] for i in content)


@lru_cache(maxsize=1024)
def _word_count(text: str) -> int:
    return len(nz.tokens(text))


def _rejoin(
    toks: tuple[nz.Token, ...], vocab: frozenset[str]
) -> tuple[tuple[str, ...], list[int]]:
    """The answer's words for the embedding model, with a word the recogniser
    split in two ("vocab ulary", "sub word") glued back when the glued form is
    a rubric word; ``at[i]`` is the position of token ``i`` in that sequence."""
    words: list[str] = []
    at: list[int] = []
    i = 0
    while i < len(toks):
        if i + 1 < len(toks) and toks[i].norm + toks[i + 1].norm in vocab:
            words.append(toks[i].norm + toks[i + 1].norm)
            at.extend((len(words) - 1, len(words) - 1))
            i += 2
            continue
        words.append(toks[i].norm)
        at.append(len(words) - 1)
        i += 1
    return tuple(words), at


HEARD_AT = 0.85
"""Lexical similarity (sound-alike, near spelling) at which an answer word is
read as the rubric word the recogniser misheard ("pare" for "pair")."""


def _as_heard(words: tuple[str, ...], index: nz.LexicalIndex) -> tuple[str, ...]:
    """The answer's words for the embedding model, with a word that only
    sounds or looks like a rubric word ("pare", "tokeniser") replaced by it:
    its contextual vector would otherwise carry the wrong word's meaning into
    the comparison of whole spans. Inflections ("merges") are kept as said."""
    out = list(words)
    vocab = index.words
    for i, (w, pairs) in enumerate(zip(words, index.matrix(words), strict=True)):
        if w in nz.STOPWORDS or not pairs:
            continue
        j, sim = max(pairs, key=lambda p: p[1])
        v = vocab[j]
        if sim >= HEARD_AT and v != w and nz.stem(v) != nz.stem(w):
            out[i] = v
    return tuple(out)


def _prepare_answer(
    answer: str,
    question: str,
    semantic: bool,
    toks: tuple[nz.Token, ...],
    vocab: frozenset[str] = frozenset(),
    index: nz.LexicalIndex | None = None,
) -> _Answer:
    qstems = _question_stems(question)
    neg = nz.negated_positions(list(toks))
    abbrev = nz.asides(list(toks), answer)[1]
    content = tuple(
        i for i, t in enumerate(toks) if not t.is_stop and not t.is_negation and not abbrev[i]
    )
    vectors = sentence = None
    if semantic and toks:
        from questions.semantic import embed_words

        words, at = _rejoin(toks, vocab)
        if index is not None:
            words = _as_heard(words, index)
        seq, pos = _embed_view(words, tuple(sorted({at[i] for i in content})))
        row = dict(zip(sorted({at[i] for i in content}), pos, strict=True))
        wv = embed_words(seq)
        vectors = wv.vectors[[row[at[i]] for i in content]]
        sentence = wv.sentence
    return _Answer(
        text=answer,
        toks=toks,
        content=content,
        weights=tuple(_token_rarity(toks[i], answer) for i in content),
        negated=tuple(neg[i] for i in content),
        parrot=tuple(toks[i].stem in qstems for i in content),
        vectors=vectors,
        sentence=sentence,
    )


def _antonym_pairs(vocab: tuple[str, ...], awords: tuple[str, ...]) -> list[tuple[int, int]]:
    """(rubric vocab index, answer column) of words with opposite meanings."""
    if not any(w in nz.ANTONYMS for w in awords):
        return []
    cols: dict[str, list[int]] = {}
    for c, w in enumerate(awords):
        cols.setdefault(w, []).append(c)
    out: list[tuple[int, int]] = []
    for v, w in enumerate(vocab):
        for opposite in nz.ANTONYMS.get(w, ()):
            out.extend((v, c) for c in cols.get(opposite, ()))
    return out


class _Context:
    """One answer against one rubric: the word-similarity matrices, computed
    once (lexical through the rubric's word index, semantic as one matrix
    product) and sliced per rubric text."""

    def __init__(self, rub: _Rubric, a: _Answer, semantic: bool) -> None:
        self.rub = rub
        self.a = a
        n = len(a.content)
        awords = [a.toks[i].norm for i in a.content]
        distinct = list(dict.fromkeys(awords))
        col_of = {w: j for j, w in enumerate(distinct)}
        lex = np.zeros((len(rub.vocab), len(distinct)), np.float32)
        for j, pairs in enumerate(rub.index.matrix(distinct)):
            for v, sim in pairs:
                lex[v, j] = sim
        self.lex = lex[:, [col_of[w] for w in awords]] if n else lex[:, :0]
        self.awords = awords
        self.aidx = {w: c for c, w in enumerate(awords)}
        self.sem = self.cos = None
        if semantic and a.vectors is not None and rub.vectors is not None and n:
            cos = np.clip(rub.vectors @ a.vectors.T, 0.0, 1.0)
            sem = np.clip((cos - COS_FLOOR) / (COS_CEIL - COS_FLOOR), 0.0, 1.0)
            parrot = np.asarray(a.parrot, bool)
            if parrot.any():
                sem[:, parrot] *= PARROT_FACTOR
                cos[:, parrot] *= PARROT_FACTOR
            for v, c in _antonym_pairs(rub.vocab, tuple(awords)):
                sem[rub.vocab_rows[v], c] = cos[rub.vocab_rows[v], c] = 0.0
            self.sem = sem.astype(np.float32, copy=False)
            self.cos = cos.astype(np.float32, copy=False)
        self.neg = np.asarray(a.negated, bool)
        self._sims: dict[str, np.ndarray] = {}
        self._lexical: dict[str, np.ndarray] = {}

    def similarity(self, text: str) -> np.ndarray:
        """Matrix (unit content words x answer content words) of word similarity:
        the lexical match or the contextual cosine mapped through
        COS_FLOOR..COS_CEIL, whichever is larger (for finding key points)."""
        hit = self._sims.get(text)
        if hit is None:
            hit = self.lexical(text)
            if self.sem is not None and hit.size:
                hit = np.maximum(hit, self.sem[self.rub.rows[text]])
            self._sims[text] = hit
        return hit

    def alignment_similarity(self, text: str) -> np.ndarray:
        """Like :meth:`similarity` but with the plain cosine (clipped at 0):
        graded closeness, not a decision, is what the whole-answer alignment
        needs (on the development grades it kept about 0.04 more Pearson r)."""
        sim = self.lexical(text)
        if self.cos is not None and sim.size:
            sim = np.maximum(sim, self.cos[self.rub.rows[text]])
        return sim

    def lexical(self, text: str) -> np.ndarray:
        """Lexical word similarity (same word, stem, sound-alike ...,
        split/merged compounds) of a rubric text's words to the answer's."""
        hit = self._lexical.get(text)
        if hit is not None:
            return hit
        u = self.rub.units[text]
        a = self.a
        sim = self.lex[self.rub.word_ids[text]]
        if len(u.content) and len(a.content):
            # split / merged compounds in either direction
            for glued, r0, r1 in u.joined:
                c = self.aidx.get(glued)
                if c is not None:
                    sim[r0, c] = sim[r1, c] = 1.0
            ujoin = {u.words[i]: r for r, i in enumerate(u.content)}
            for c, (i, j) in enumerate(zip(a.content, a.content[1:], strict=False)):
                if j == i + 1:
                    r = ujoin.get(a.toks[i].norm + a.toks[j].norm)
                    if r is not None:
                        sim[r, c] = sim[r, c + 1] = 1.0
        self._lexical[text] = sim
        return np.asarray(sim)

    def polarity_flip(self, text: str) -> np.ndarray:
        un = np.asarray(self.rub.units[text].negated, bool)[:, None]
        return np.asarray(un != self.neg[None, :])


@dataclass(frozen=True)
class _Match:
    similarity: float
    evidence: Evidence | None
    contradicted: bool


def _match_unit(ctx: _Context, text: str) -> _Match:
    """Best window of the answer for one rubric text, with polarity check."""
    u, a = ctx.rub.units[text], ctx.a
    k, n = len(u.content), len(a.content)
    if k == 0 or n == 0:
        return _Match(0.0, None, False)
    w = np.asarray(u.weights, np.float32)
    if w.sum() <= 0:
        return _Match(0.0, None, False)
    w = w / w.sum()
    sim = ctx.similarity(text)
    flip = ctx.polarity_flip(text)
    width = min(n, max(6, 2 * k + 2))
    win = np.lib.stride_tricks.sliding_window_view(sim, width, axis=1)  # k x S x width
    arg = win.argmax(axis=2)
    vals = np.take_along_axis(win, arg[..., None], axis=2)[..., 0]
    cov = (vals * w[:, None]).sum(axis=0)
    pos = arg + np.arange(arg.shape[1])[None, :]
    bad = flip[np.arange(k)[:, None], pos] & (vals >= 0.6) & (w[:, None] >= 0.5 / k)
    contradicted = bad.any(axis=0)
    cov = np.where(contradicted, cov * CONTRADICTION_FACTOR, cov)
    s = int(np.argmax(cov))
    hit = sorted({int(p) for p, v in zip(pos[:, s], vals[:, s], strict=True) if v >= 0.5})
    evidence = None
    if hit:
        first = a.toks[a.content[hit[0]]]
        last = a.toks[a.content[hit[-1]]]
        evidence = Evidence(a.text[first.start : last.end], first.start, last.end)
    return _Match(max(0.0, min(1.0, float(cov[s]))), evidence, bool(contradicted[s]))


def _alignment(
    ctx: _Context, text: str, graded: bool = True, needed: int | None = None
) -> tuple[float, float]:
    """Whole-answer (recall, precision) of the reference against the answer.

    With ``graded`` the recall uses the plain cosine (see
    :meth:`_Context.alignment_similarity`); without it, the stricter
    similarity used for key points. With ``needed``, the recall is that of
    the ``needed`` best-covered items of the text (see :mod:`questions.structure`)."""
    u, a = ctx.rub.units[text], ctx.a
    k, n = len(u.content), len(a.content)
    if k == 0 or n == 0:
        return 0.0, 0.0
    flip = ctx.polarity_flip(text)
    sim = ctx.alignment_similarity(text) if graded else ctx.similarity(text)
    sim = np.where(flip & (sim >= FLIP_AT), sim * FLIP_FACTOR, sim)
    w = np.asarray(u.weights, np.float32)
    best = sim.max(axis=1)
    recall = float((best * w).sum() / max(w.sum(), 1e-9))
    if needed is not None:
        items = np.asarray(u.items)
        per_item = [
            float((best[items == k] * w[items == k]).sum() / w[items == k].sum())
            for k in np.unique(items)
            if w[items == k].sum() > 0
        ]
        if len(per_item) > needed:
            recall = float(np.mean(sorted(per_item, reverse=True)[:needed]))
    aw = np.asarray(a.weights, np.float32) * np.where(np.asarray(a.parrot), QUESTION_WEIGHT, 1.0)
    precision = float((sim.max(axis=0) * aw).sum() / max(aw.sum(), 1e-9))
    return recall, precision


def _exact_recall(ctx: _Context, text: str) -> float:
    """Share of the reference's (weighted) content words said with the same
    word or a lexical variant, in the same polarity (no embeddings)."""
    u, a = ctx.rub.units[text], ctx.a
    if not u.content or not a.content:
        return 0.0
    lex = np.where(ctx.polarity_flip(text), 0.0, ctx.lex[ctx.rub.word_ids[text]])
    w = np.asarray(u.weights, np.float32)
    return float((lex.max(axis=1) * w).sum() / max(w.sum(), 1e-9))


def _ramp(x: float, lo: float, hi: float) -> float:
    return max(0.0, min(1.0, (x - lo) / (hi - lo)))


def _as_keypoint(k: str | KeyPoint) -> KeyPoint:
    return k if isinstance(k, KeyPoint) else KeyPoint(text=str(k))


@lru_cache(maxsize=1024)
def derive_key_points(reference: str) -> tuple[KeyPoint, ...]:
    """Split a reference into sentence/clause key points (used when none are given)."""
    import re

    parts = [p.strip() for p in re.split(r"(?<=[.!?;])\s+|\n+", reference or "") if p.strip()]
    points: list[str] = []
    for p in parts:
        n = len(nz.tokens(p))
        if points and n < 4:
            points[-1] = points[-1] + " " + p
        elif n:
            points.append(p)
    return tuple(KeyPoint(text=p) for p in points) or (
        (KeyPoint(text=reference),) if reference and reference.strip() else ()
    )


def _rubric_texts(
    reference: str, key_points: Sequence[KeyPoint], misconceptions: Sequence[Misconception]
) -> tuple[str, ...]:
    texts = [reference]
    for kp in key_points:
        texts.extend((kp.text, *kp.phrasings, *kp.examples))
    for mc in misconceptions:
        texts.extend((mc.text, *mc.phrasings))
        if mc.correction:
            texts.append(mc.correction)
    return tuple(dict.fromkeys(texts))


def prepare(q: Question, *, semantic: bool | None = None) -> None:
    """Prepare a bank question's rubric now (tokens, word index, embeddings in
    one forward pass), e.g. while the question is being read aloud, so that
    the first grade of it is as fast as the next ones."""
    sem = _semantic_on(semantic)
    kps = q.key_points or derive_key_points(q.reference)
    _rubric(_question_text(q), _rubric_texts(q.reference, kps, q.misconceptions), sem)


def _question_text(q: Question) -> str:
    return q.prompt + " " + (q.spoken or "")


def _semantic_on(semantic: bool | None) -> bool:
    if semantic is False:
        return False
    return load()


# --- key points and misconceptions judged by meaning -------------------------

MEANING_LO, MEANING_HI = 0.45, 0.80
"""Cosine between an answer span and a key point (its text or an example
sentence, pooled word vectors) mapped linearly to a similarity of 0..1."""
NEGATION_GAP = 0.34
"""Difference in the share of negated words beyond which a span and a rubric
text say opposite things ("it does not retrain the model")."""
MC_MEANING_AT = 0.80
"""Span cosine at which an answer span states a misconception in other words."""
MIN_EVIDENCE_WORDS = 3
"""Evidence is at least a short clause, never a lone word."""


@dataclass(frozen=True)
class _Spans:
    """The answer's spans (see :mod:`questions.meaning`) with their pooled
    vectors and negation shares."""

    spans: tuple[meaning.Span, ...]
    clauses: tuple[meaning.Span, ...]
    vectors: np.ndarray | None
    negated: np.ndarray
    rows: tuple[np.ndarray, ...]
    """Per span: its columns among the answer's content words."""
    sentences: tuple[meaning.Span, ...] = ()

    @staticmethod
    def of(ctx: _Context) -> _Spans:
        a = ctx.a
        spans = tuple(meaning.spans(a.text, a.toks))
        pos = np.asarray(a.content, np.intp)
        rows = [np.flatnonzero((pos >= s.start) & (pos < s.end)) for s in spans]
        neg = np.asarray(a.negated, np.float32)
        negated = np.asarray([float(neg[r].mean()) if len(r) else 0.0 for r in rows], np.float32)
        vectors = None
        if a.vectors is not None and len(a.content):
            w = np.asarray(a.weights, np.float32) * np.where(
                np.asarray(a.parrot), PARROT_FACTOR, 1.0
            ).astype(np.float32)
            vectors = meaning.pooled(a.vectors, w, rows)
        return _Spans(
            spans,
            tuple(meaning.clauses(a.text, a.toks)),
            vectors,
            negated,
            tuple(rows),
            tuple(meaning.sentences(a.text, a.toks)),
        )

    def best(self, ctx: _Context, texts: Sequence[str]) -> tuple[float, int]:
        """(cosine, span index) of the span closest to any of ``texts``, with
        spans of the opposite polarity to that text left out."""
        rub = ctx.rub
        if self.vectors is None or rub.pooled is None or not self.spans:
            return 0.0, -1
        best, at = 0.0, -1
        for t in texts:
            u = rub.units[t]
            if not u.content:
                continue
            cos = self.vectors @ rub.pooled[t]
            share = float(np.mean(u.negated))
            cos = np.where(np.abs(self.negated - share) > NEGATION_GAP, 0.0, cos)
            k = int(np.argmax(cos))
            if cos[k] > best:
                best, at = float(cos[k]), k
        return best, at

    def closest(self, ctx: _Context, texts: Sequence[str]) -> np.ndarray:
        """Per span: the cosine to the closest of ``texts`` (0 where the span
        and the text have opposite polarity)."""
        rub = ctx.rub
        out = np.zeros(len(self.spans), np.float32)
        if self.vectors is None or rub.pooled is None:
            return out
        for t in texts:
            u = rub.units[t]
            if not u.content:
                continue
            cos = self.vectors @ rub.pooled[t]
            share = float(np.mean(u.negated))
            out = np.maximum(out, np.where(np.abs(self.negated - share) > NEGATION_GAP, 0.0, cos))
        return out

    def cosine(self, ctx: _Context, k: int, text: str) -> float:
        rub = ctx.rub
        if self.vectors is None or rub.pooled is None or text not in rub.pooled:
            return 0.0
        return float(self.vectors[k] @ rub.pooled[text])

    def coverage(self, ctx: _Context, k: int, text: str) -> float:
        """How much of ``text``'s (weighted) words span ``k`` says, in the same
        polarity: word-by-word recall restricted to the span."""
        u = ctx.rub.units[text]
        cols = self.rows[k]
        if not u.content or not len(cols):
            return 0.0
        sim = ctx.similarity(text)[:, cols]
        flip = ctx.polarity_flip(text)[:, cols]
        sim = np.where(flip & (sim >= FLIP_AT), 0.0, sim)
        w = np.asarray(u.weights, np.float32)
        return float((sim.max(axis=1) * w).sum() / max(float(w.sum()), 1e-9))

    def closeness(self, ctx: _Context, k: int, text: str) -> float:
        """Closeness of span ``k`` to a rubric text: its words said there, and
        the two meanings compared as wholes."""
        return 0.5 * self.coverage(ctx, k, text) + 0.5 * self.cosine(ctx, k, text)

    def around(self, first: int, last: int) -> meaning.Span:
        """The clauses that hold tokens ``first`` .. ``last``."""
        inside = [c for c in self.clauses if c.end > first and c.start <= last]
        if not inside:
            return meaning.Span(first, last + 1)
        return meaning.Span(inside[0].start, inside[-1].end)

    def sentence_of(self, span: meaning.Span) -> int:
        """The index of the span that is the sentence holding ``span`` (-1 when
        that sentence is too long to be a span)."""
        for s in self.sentences:
            if s.start <= span.start and s.end >= span.end:
                return next(
                    (k for k, x in enumerate(self.spans) if x.start == s.start and x.end == s.end),
                    -1,
                )
        return -1

    def index_of(self, span: meaning.Span) -> int:
        """The index of the span that best covers ``span`` (same or smallest superset)."""
        best, at = None, -1
        for k, s in enumerate(self.spans):
            if s.start <= span.start and s.end >= span.end:
                size = len(s)
                if best is None or size < best:
                    best, at = size, k
        return at


def _evidence(a: _Answer, span: meaning.Span) -> Evidence:
    first, last = a.toks[span.start], a.toks[span.end - 1]
    return Evidence(a.text[first.start : last.end], first.start, last.end)


def _word_span(a: _Answer, ev: Evidence) -> meaning.Span:
    idx = [i for i, t in enumerate(a.toks) if t.start >= ev.start and t.end <= ev.end]
    return meaning.Span(idx[0], idx[-1] + 1) if idx else meaning.Span(0, 0)


def _missing_words(ctx: _Context, text: str) -> str:
    """The key point's words that the answer did not say, as short runs
    ("KL divergence loss; softened distribution")."""
    u = ctx.rub.units[text]
    if not u.content:
        return ""
    sim = ctx.similarity(text)
    said = sim.max(axis=1) >= 0.5 if sim.size else np.zeros(len(u.content), bool)
    runs: list[list[str]] = []
    last = -2
    for r, i in enumerate(u.content):
        if said[r] or u.weights[r] < 0.3:
            continue
        if i == last + 1 or (runs and i == last + 2 and u.words[i - 1] in nz.STOPWORDS):
            if i == last + 2:
                runs[-1].append(u.words[i - 1])
            runs[-1].append(u.words[i])
        else:
            runs.append([u.words[i]])
        last = i
    return "; ".join(" ".join(r) for r in runs[:3])


KP_WEIGHTS = (5.5, 11.91, 6.16)
KP_BIAS = -10.25
"""Logistic combination of a key point's three signals (word match, span
meaning, specificity; see :func:`_judge_key_point`), fitted on the labelled
development answers by cross-validation grouped by question."""
KP_COVERED, KP_PARTIAL = 0.4, 0.2
"""Probability of "the point was said" at which it counts as covered / partial."""


def _judge_key_point(
    ctx: _Context,
    kp: KeyPoint,
    spans: _Spans | None,
    others: Sequence[str] = (),
    signals: list[tuple[float, float, float]] | None = None,
) -> KeyPointResult:
    """A key point's status.

    Without spans (a bare reference) it is the word-by-word match of its text
    and phrasings. With a curated rubric three signals are combined:

    * *word*: the best word-by-word match of its text, phrasings or examples
      in a window of the answer (:func:`_match_unit`);
    * *meaning*: the closeness of the best answer span, as a whole, to its
      text or an example sentence;
    * *specificity*: how much closer some span is to this point than to any
      other key point of the question: an answer that talks around the topic
      is close to all of them at once.

    The evidence is the clause (or clauses) of the answer that said it."""
    rub = ctx.rub
    phrasings = [p for p in kp.phrasings if _informative(rub.units[p])]
    examples = [p for p in kp.examples if _informative(rub.units[p])]
    texts = [kp.text, *phrasings, *(examples if spans is not None else ())]
    best = max((_match_unit(ctx, t) for t in texts), key=lambda m: m.similarity)
    sim = best.similarity
    span = _word_span(ctx.a, best.evidence) if best.evidence else None
    if spans is not None and spans.vectors is not None and len(spans.spans):
        mine = spans.closest(ctx, [kp.text, *kp.examples])
        k = int(np.argmax(mine))
        specific = float(np.max(mine - spans.closest(ctx, others))) if others else 0.0
        if signals is not None:
            signals.append((sim, float(mine[k]), specific))
        z = KP_BIAS + float(np.dot(KP_WEIGHTS, (sim, float(mine[k]), specific)))
        word_sim = sim
        sim = 1.0 / (1.0 + math.exp(-z))
        if span is None or not len(span) or word_sim < float(mine[k]):
            span = spans.spans[k]
        else:
            span = spans.around(span.start, span.end - 1)
        covered_at, partial_at = KP_COVERED, KP_PARTIAL
    else:
        covered_at, partial_at = COVERED_AT, PARTIAL_AT
    simv = round(sim, 4)
    status: Status = "covered" if simv >= covered_at else "partial" if simv >= partial_at else "missed"
    evidence = None
    if status != "missed" and span is not None and len(span):
        evidence = _evidence(ctx.a, span)
    return KeyPointResult(
        text=kp.text,
        weight=float(kp.weight),
        status=status,
        similarity=simv,
        evidence=evidence,
        missing=_missing_words(ctx, kp.text) if status == "partial" else "",
    )


MC_CANDIDATE_AT = 0.6
"""Word match or span cosine at which a span is examined for a misconception."""
MC_CLOSE_AT, MC_MARGIN = 0.4, 0.1
"""A span asserts a misconception when its closeness to the misconception is
at least MC_CLOSE_AT and beats its closeness to every true statement of the
rubric by MC_MARGIN."""


def _judge_misconception(
    ctx: _Context, mc: Misconception, spans: _Spans | None, truths: Sequence[str] = ()
) -> MisconceptionResult | None:
    """A misconception is charged only when a span of the answer asserts it:
    its words or its meaning match, the span is clearly closer to the
    misconception than to anything true the rubric says (its correction, the
    key points and their examples), and it is not negated ("it does not
    retrain the model", "unlike an RNN, which reads one token at a time, ...")."""
    rub = ctx.rub
    texts = [t for t in (mc.text, *mc.phrasings) if _informative(rub.units[t])]
    matches = [_match_unit(ctx, t) for t in texts]
    if spans is None or spans.vectors is None:
        hits = [m for m in matches if m.similarity >= MISCONCEPTION_AT and m.evidence]
        if not hits:
            return None
        m = max(hits, key=lambda x: x.similarity)
        assert m.evidence is not None
        return MisconceptionResult(mc.text, mc.correction, float(mc.penalty), m.evidence)
    candidates: list[int] = []
    for m in sorted(matches, key=lambda x: -x.similarity):
        if m.similarity >= MC_CANDIDATE_AT and m.evidence:
            ws = _word_span(ctx.a, m.evidence)
            k = spans.index_of(spans.around(ws.start, ws.end - 1))
            if k >= 0:
                candidates.append(k)
    close = spans.closest(ctx, texts)
    candidates.extend(int(k) for k in np.argsort(-close)[:3] if close[k] >= MC_CANDIDATE_AT)
    mu = rub.units[mc.text]
    share = float(np.mean(mu.negated)) if mu.content else 0.0
    true = [t for t in (mc.correction, *truths) if t]
    def whole(k: int) -> bool:
        """A span of whole clauses inside one sentence: a claim as it was said."""
        sp = spans.spans[k]
        starts = {c.start for c in spans.clauses}
        ends = {c.end for c in spans.clauses}
        inside = any(s.start <= sp.start and sp.end <= s.end for s in spans.sentences)
        return inside and sp.start in starts and sp.end in ends

    def margin(k: int) -> float:
        to_truth = max((spans.closeness(ctx, k, t) for t in true), default=0.0)
        return spans.closeness(ctx, k, mc.text) - to_truth

    for k in dict.fromkeys(candidates):
        if not whole(k) or abs(float(spans.negated[k]) - share) > NEGATION_GAP:
            continue
        if spans.closeness(ctx, k, mc.text) < MC_CLOSE_AT or margin(k) < MC_MARGIN:
            continue
        # a clause cut from its sentence can drop the qualifier that makes it
        # true ("keeps adding tokens | until the total passes p"): the whole
        # sentence must lean towards the misconception too
        sent = spans.sentence_of(spans.spans[k])
        if sent >= 0 and sent != k and margin(sent) <= 0:
            continue
        return MisconceptionResult(
            mc.text, mc.correction, float(mc.penalty), _evidence(ctx.a, spans.spans[k])
        )
    return None


def _discount_wrong_clauses(
    results: list[KeyPointResult],
    kp_credits: list[tuple[float, float]],
    found: Sequence[MisconceptionResult],
) -> tuple[list[KeyPointResult], list[tuple[float, float]]]:
    """A clause that asserts a misconception earns no key point: its words
    may be the rubric's ("every layer uses the same weights" for BERT), but
    what it says is wrong. Key points whose evidence lies inside such a clause
    are marked missed."""
    wrong = [(m.evidence.start, m.evidence.end) for m in found]
    out_r, out_c = [], []
    for r, (w, c) in zip(results, kp_credits, strict=True):
        ev = r.evidence
        if ev is not None and any(a <= ev.start and ev.end <= b for a, b in wrong):
            r = KeyPointResult(r.text, r.weight, "missed", r.similarity, None)
            c = 0.0
        out_r.append(r)
        out_c.append((w, c))
    return out_r, out_c


def _grade(
    question: str,
    reference: str,
    answer: str,
    key_points: Sequence[KeyPoint],
    misconceptions: Sequence[Misconception],
    semantic: bool | None,
    explicit: bool = True,
    signals: list[tuple[float, float, float]] | None = None,
) -> Assessment:
    answer = answer or ""
    a_toks = nz.tokens(answer)
    if not a_toks:
        return Assessment(
            score=None,
            key_points=tuple(
                KeyPointResult(k.text, float(k.weight), "missed", 0.0, None) for k in key_points
            ),
            no_speech=True,
        )
    sem = _semantic_on(semantic)
    ref_text = reference or " ".join(k.text for k in key_points)
    rub = _rubric(question, _rubric_texts(ref_text, key_points, misconceptions), sem)
    a = _prepare_answer(
        answer, question, sem, tuple(a_toks), frozenset(rub.vocab), rub.index if explicit else None
    )
    ctx = _Context(rub, a, sem)

    # key points
    spans = _Spans.of(ctx) if explicit else None
    results: list[KeyPointResult] = []
    kp_credits: list[tuple[float, float]] = []
    for kp in key_points:
        others = [t for o in key_points if o is not kp for t in (o.text, *o.examples)]
        r = _judge_key_point(ctx, kp, spans, others, signals)
        results.append(r)
        # curated rubric: a point earns what its verdict says (STATUS_CREDIT);
        # a bare reference's derived points earn by graded closeness
        credit = (
            STATUS_CREDIT[r.status]
            if spans is not None
            else _ramp(r.similarity, CREDIT_LOW, CREDIT_HIGH)
        )
        kp_credits.append((float(kp.weight), credit))
    total_w = sum(w for w, _ in kp_credits) or 1.0
    kp_credit = sum(w * c for w, c in kp_credits) / total_w if kp_credits else 0.0
    kp_sim = (
        sum(float(k.weight) * r.similarity for k, r in zip(key_points, results, strict=True))
        / total_w
        if results
        else 0.0
    )

    # whole answer against the reference
    # A curated rubric (explicit key points) says what must be said, so its
    # words are matched strictly; a bare reference is matched by graded
    # closeness, which follows human grades better (see the docstring).
    recall, precision = _alignment(
        ctx,
        ref_text,
        graded=not (explicit and results),
        needed=structure.items_needed(question, ref_text),
    )
    exact = _exact_recall(ctx, ref_text)
    cosine = contrast = 0.0
    if sem and a.sentence is not None:
        cosine = float(rub.sentences[ref_text] @ a.sentence)
        to_question = (
            float(rub.question_sentence @ a.sentence) if rub.question_sentence is not None else 0.0
        )
        contrast = max(0.0, cosine - to_question)

    # misconceptions
    truths = [t for kp in key_points for t in (kp.text, *kp.examples)]
    found = [
        m for mc in misconceptions if (m := _judge_misconception(ctx, mc, spans, truths))
    ]
    if found and spans is not None:
        results, kp_credits = _discount_wrong_clauses(results, kp_credits, found)
        kp_credit = sum(w * c for w, c in kp_credits) / total_w if kp_credits else 0.0
    penalty = sum(m.penalty for m in found)
    choice = _wrong_choice(reference, a_toks) if reference else None

    full_recall = (
        (1 - MIX_KEYPOINTS) * recall + MIX_KEYPOINTS * kp_credit if explicit and results else recall
    )
    b2 = RECALL_BETA**2
    f_beta = (
        (1 + b2) * precision * full_recall / (b2 * precision + full_recall)
        if precision + full_recall > 0
        else 0.0
    )
    raw = f_beta + MIX_CONTRAST * contrast
    score = max(0.0, min(1.0, _ramp(raw, SCORE_LOW, SCORE_HIGH) - penalty))
    if choice is not None:
        # the explanation may still hold something right, but the verdict is wrong
        said, ref_verdict = choice
        kept = score * WRONG_CHOICE_FACTOR
        word = answer[said.start : said.end]
        found.append(
            MisconceptionResult(
                text=f"Answered {word!r}",
                correction=f"The reference answer is "
                f"{reference[ref_verdict.start : ref_verdict.end]!r}.",
                penalty=round(score - kept, 4),
                evidence=Evidence(word, said.start, said.end),
            )
        )
        score = kept
    n_words = len(a_toks)
    ref_words = _word_count(reference) if reference else 0
    too_short = n_words < min(TOO_SHORT_WORDS, max(3, ref_words // 4))
    off_topic = recall < 0.2 and (cosine < 0.25 if sem else True)
    details = (
        ("f_beta", round(f_beta, 4)),
        ("raw", round(raw, 4)),
        ("contrast", round(contrast, 4)),
        ("cosine", round(cosine, 4)),
        ("exact_recall", round(exact, 4)),
        ("key_points", round(kp_credit, 4)),
        ("kp_similarity", round(kp_sim, 4)),
        ("misconception_penalty", round(penalty, 4)),
        ("precision", round(precision, 4)),
        ("recall", round(recall, 4)),
        ("semantic", 1.0 if sem else 0.0),
    )
    return Assessment(
        score=round(score, 4),
        key_points=tuple(results),
        misconceptions=tuple(found),
        too_short=too_short,
        off_topic=off_topic,
        no_speech=False,
        details=tuple(sorted(details)),
    )


_VERDICT_FOLLOWERS = frozenset(
    "because since as not it its he she they we you i that this there".split()
)
"""Words that may follow an unpunctuated verdict ("No it does not ...",
"Yes because ..."); "No one ..." or "No energy ..." is not a verdict."""


def _verdict(toks: Sequence[nz.Token], answer: bool) -> nz.Token | None:
    """The verdict a text opens with: "No." / "Yes, because ..." / "A. ...".

    A reference states one only as a bare word closed by punctuation. A
    spoken or typed answer may run on ("No it does not", "Yes because");
    a letter must be closed by punctuation, so the article "a" is never read
    as option A."""
    if not toks or not any(toks[0].norm in v for v in VERDICTS):
        return None
    t = toks[0]
    if t.boundary or len(toks) == 1:
        return t
    if answer and len(t.norm) > 1 and toks[1].norm in _VERDICT_FOLLOWERS:
        return t
    return None


@lru_cache(maxsize=1024)
def _reference_verdict(reference: str) -> nz.Token | None:
    return _verdict(nz.tokens(reference), answer=False)


def _wrong_choice(
    reference: str, a_toks: Sequence[nz.Token]
) -> tuple[nz.Token, nz.Token] | None:
    """(answer's verdict, reference's verdict) when the answer opens with a
    different verdict from the same set as the reference's."""
    ref = _reference_verdict(reference)
    if ref is None:
        return None
    said = _verdict(a_toks, answer=True)
    if said is None or said.norm == ref.norm:
        return None
    if not any(ref.norm in v and said.norm in v for v in VERDICTS):
        return None
    return said, ref


def _informative(u: _Unit) -> bool:
    """A phrasing made only of question words proves nothing."""
    return bool(u.content) and any(w >= 0.3 for w in u.weights)


def grade(
    question: str,
    reference: str,
    answer: str,
    key_points: Sequence[str | KeyPoint] | None = None,
    *,
    semantic: bool | None = None,
) -> Assessment:
    """Grade ``answer`` to ``question`` against ``reference``.

    ``key_points`` default to the reference's sentences. ``semantic=False``
    grades with lexical matching only (no embedding model)."""
    kps = tuple(_as_keypoint(k) for k in key_points) if key_points else derive_key_points(reference)
    return _grade(question, reference, answer, kps, (), semantic, explicit=bool(key_points))


def key_point_signals(q: Question, answer: str) -> list[tuple[float, float, float]]:
    """Per key point of ``q``: the (word, meaning, specificity) signals that
    :data:`KP_WEIGHTS` combines (with the embedding model; for fitting the
    weights on labelled answers)."""
    signals: list[tuple[float, float, float]] = []
    _grade(
        _question_text(q), q.reference, answer, q.key_points, q.misconceptions, True,
        signals=signals,
    )
    return signals


def grade_question(q: Question, answer: str, *, semantic: bool | None = None) -> Assessment:
    """Grade ``answer`` against a bank question's full rubric."""
    return _grade(
        _question_text(q),
        q.reference,
        answer,
        q.key_points or derive_key_points(q.reference),
        q.misconceptions,
        semantic,
    )
