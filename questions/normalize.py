"""Spoken-answer text normalisation for the matcher (pure, stdlib only).

A transcript is turned into a list of :class:`Token` values that remember
their character offsets in the ORIGINAL string, so evidence can point back at
the words the speaker said. On the way:

* letter case and punctuation are dropped (a transcript's punctuation is the
  recogniser's guess, not the speaker's);
* number words become digits ("twenty five" -> "25", "two" -> "2");
* hesitation fillers ("um", "uh", "you know", "I mean", filler "like",
  filler "kind of"/"sort of") and immediate repetitions ("the the",
  "I think I think") are removed;
* every token carries a light stem and a phonetic key, used by
  :func:`word_similarity` to absorb recognition errors (misspellings,
  homophones such as "bite"/"byte", "Laura"/"LoRA") and by the matcher to
  join split or merged words ("data set" / "dataset").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_BOUNDARY = re.compile(r"[,.;:!?]")
_FULL_STOP = re.compile(r"[.;!?]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either else etc even ever every few for from further get gets getting got had has have
    having he her here hers herself him himself his how however i if in into is it its
    itself just let lets may me might more most much must my myself neither nor of off on
    once one only or other otherwise our ours ourselves out over own per quite rather really
    same say says shall she should since so some something such than that the their theirs
    them themselves then there these they thing things this those though through thus to
    too under until up upon us use used uses using very via was way we well were what whatever
    when where whether which while who whom whose why will with within would yes yet you
    your yours yourself yourselves basically actually kind sort lot lots like okay ok right
    mean means means think go goes going make makes made""".split()
)
"""Function words and discourse words that never count as content."""

NEGATIONS = frozenset(
    """not no never none nothing nobody neither nor without cannot cant dont doesnt didnt
    isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt neednt
    aint lacks lack""".split()
)
"""Words that reverse the polarity of what follows them in the clause."""

CLAUSE_BREAKS = frozenset(
    "but however although though whereas instead rather because since so while unlike "
    "except yet then therefore whereas otherwise and".split()
)
"""Words that end the scope of a negation."""

FILLERS = frozenset("um umm uh uhh uhm er erm ah ahh eh hmm hm mm mhm huh".split())

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}

_LIKE_KEEPERS = frozenset(
    "i we you they he she it would do does did looks look looked looking seems seem seemed "
    "sounds sound feel feels felt something things nothing more less much just really "
    "anything everything stuff not dont doesnt didnt".split()
)
"""Words after which "like" is a verb or a preposition, not a filler."""
_YOU_KNOW_KEEPERS = frozenset(
    "that what how why when where which whether if the a an about this these those".split()
)
_KIND_KEEPERS = frozenset("a an the this that one each any every what which some same".split())


@dataclass(frozen=True)
class Token:
    """One word of the answer as the matcher sees it."""

    norm: str
    """Lower-case word with number words as digits (apostrophes dropped)."""
    start: int
    """Character offset in the original text."""
    end: int
    stem: str
    key: str
    """Phonetic key (sound-alike words share it)."""
    boundary: bool = False
    """Punctuation (, . ; : ! ?) follows this word before the next one."""
    full_stop: bool = False
    """A sentence ends after this word (. ; ! ?)."""

    @property
    def is_stop(self) -> bool:
        return self.norm in STOPWORDS

    @property
    def is_negation(self) -> bool:
        return self.norm in NEGATIONS


def _raw_words(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in _WORD.finditer(text):
        raw = m.group(0).lower().replace("\u2019", "'")
        w = raw
        if w.endswith("n't"):
            w = w[:-3] + "nt"
            if w == "nt":
                w = "not"
        elif "'" in raw:
            # possessives and contractions: keep the word, drop the clitic
            for clitic in ("s", "re", "ve", "ll", "d", "m"):
                if raw.endswith("'" + clitic):
                    w = raw[: -len(clitic) - 1]
                    break
        w = w.replace("'", "")
        if w:
            out.append((w, m.start(), m.end()))
    return out


def _numbers(words: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Join runs of number words into one digit token."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        w, s, e = words[i]
        if w in _UNITS or w in _TENS:
            total, current = 0, 0
            j = i
            last_end = e
            while j < len(words):
                wj = words[j][0]
                if (
                    wj in _UNITS
                    and (current % 10 == 0 or current == 0)
                    and not (current and current < 20)
                ):
                    current += _UNITS[wj]
                elif wj in _TENS and current % 100 == 0:
                    current += _TENS[wj]
                elif wj in _SCALES and (current or total) and j > i:
                    scale = _SCALES[wj]
                    if scale == 100:
                        current = max(current, 1) * 100
                    else:
                        total += max(current, 1) * scale
                        current = 0
                elif (
                    wj == "and"
                    and j > i
                    and j + 1 < len(words)
                    and words[j + 1][0] in (_UNITS.keys() | _TENS.keys())
                    and current >= 100
                ):
                    pass
                else:
                    break
                last_end = words[j][2]
                j += 1
            out.append((str(total + current), s, last_end))
            i = j
            continue
        out.append((w, s, e))
        i += 1
    return out


def _drop_fillers(words: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    n = len(words)
    i = 0
    while i < n:
        w = words[i][0]
        nxt = words[i + 1][0] if i + 1 < n else ""
        prev = out[-1][0] if out else ""
        if w in FILLERS:
            i += 1
            continue
        if w == "you" and nxt == "know":
            after = words[i + 2][0] if i + 2 < n else ""
            if after not in _YOU_KNOW_KEEPERS:
                i += 2
                continue
        if w == "i" and nxt == "mean" and (i + 2 >= n or words[i + 2][0] not in ("that", "it")):
            i += 2
            continue
        if w in ("kind", "sort") and nxt == "of" and prev not in _KIND_KEEPERS:
            i += 2
            continue
        if w == "like" and prev not in _LIKE_KEEPERS:
            i += 1
            continue
        out.append(words[i])
        i += 1
    return out


def _drop_repeats(words: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Remove immediate repetitions of one, two or three words."""
    out: list[tuple[str, int, int]] = []
    for item in words:
        out.append(item)
        for n in (1, 2, 3):
            if len(out) >= 2 * n and [x[0] for x in out[-n:]] == [x[0] for x in out[-2 * n : -n]]:
                if n == 1 and item[0].isdigit():
                    continue
                del out[-n:]
                break
    return out


_SUFFIXES = (
    ("izations", "ize"), ("ization", "ize"), ("isation", "ize"), ("ations", "ate"),
    ("ation", "ate"), ("nesses", ""), ("ness", ""), ("ments", ""), ("ment", ""),
    ("ities", ""), ("ity", ""), ("ically", "ic"), ("ally", "al"), ("ies", "y"),
    ("ied", "y"), ("ings", ""), ("ing", ""), ("edly", ""), ("ed", ""), ("ly", ""),
    ("ers", "er"), ("es", ""), ("s", ""),
)  # fmt: skip


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stripper (plural, -ing, -ed, -ly, -ation ...)."""
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    for suf, rep in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and (w.endswith("ss") or w.endswith("us") or w.endswith("is")):
                continue
            if suf == "es" and not re.search(r"(ss|x|z|ch|sh)es$", w):
                continue
            w = w[: -len(suf)] + rep
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if w.endswith("ise"):
        w = w[:-3] + "ize"
    elif w.endswith("iser"):
        w = w[:-4] + "izer"
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


@lru_cache(maxsize=65536)
def phonetic(word: str) -> str:
    """A rough sound key: spellings that sound alike map to the same key."""
    w = word.lower()
    if w.isdigit():
        return w
    for a, b in (
        ("ph", "f"), ("ght", "t"), ("ck", "k"), ("sch", "sk"), ("tch", "ch"), ("wh", "w"),
        ("qu", "kw"), ("x", "ks"), ("dg", "j"), ("kn", "n"), ("wr", "r"), ("mb", "m"),
    ):  # fmt: skip
        w = w.replace(a, b)
    w = re.sub(r"c(?=[eiy])", "s", w)
    w = w.replace("c", "k").replace("q", "k").replace("z", "s").replace("v", "f")
    w = re.sub(r"(?<=[a-z])h", "", w) if len(w) > 2 else w
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    w = re.sub(r"[aeiouy]+", "a", w)
    w = re.sub(r"(.)\1+", r"\1", w)
    return w


def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=262144)
def word_similarity(a: str, b: str) -> float:
    """Lexical similarity of two normalised words in [0, 1].

    1 for the same word, 0.95 for the same stem, 0.85 for sound-alikes of four
    letters or more, 0.8 for near spellings or derivations of one root (five
    letters or more); else 0."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if stem(a) == stem(b):
        return 0.95
    la, lb = len(a), len(b)
    if min(la, lb) >= 4 and phonetic(a) == phonetic(b) and len(phonetic(a)) >= 3:
        return 0.85
    if min(la, lb) >= 5 and abs(la - lb) <= 2:
        d = _levenshtein(a, b)
        if d <= (1 if min(la, lb) < 8 else 2):
            return 0.8
    if min(la, lb) >= 5 and root(a) == root(b):
        return DERIVED
    return 0.0


DERIVED = 0.8
"""Similarity of two derivations of one root ("tokenizer" / "tokenization")."""

_DERIVATIONAL = ("izer", "iser", "izat", "iz", "er", "or", "at")


@lru_cache(maxsize=65536)
def root(word: str) -> str:
    """The stem with one agent / process suffix removed: "tokenizer",
    "tokenization" and "tokenize" share the root "token"; "encoder" and
    "encoding" share "encod". Roots shorter than four letters are not cut."""
    w = stem(word)
    if w.isdigit():
        return w
    for suf in _DERIVATIONAL:
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            return w[: -len(suf)]
    return w


@lru_cache(maxsize=65536)
def _deletions(word: str) -> frozenset[str]:
    """The word with up to one (two from eight letters on) letters deleted."""
    out = {word}
    frontier = {word}
    for _ in range(2 if len(word) >= 8 else 1):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return frozenset(out)


class LexicalIndex:
    """Words indexed by form, stem, root, sound and near spelling, so that the
    lexical similarity of many word pairs is found without trying every pair."""

    def __init__(self, words: list[str] | tuple[str, ...]) -> None:
        self.words = tuple(words)
        self._keys: dict[str, set[int]] = {}
        for j, w in enumerate(self.words):
            for k in self._index_keys(w):
                self._keys.setdefault(k, set()).add(j)

    @staticmethod
    def _index_keys(w: str) -> list[str]:
        keys = ["w:" + w, "s:" + stem(w)]
        if w.isdigit():
            return keys
        if len(w) >= 4:
            keys.append("p:" + phonetic(w))
        if len(w) >= 5:
            keys.append("r:" + root(w))
            keys.extend("d:" + d for d in _deletions(w))
        return keys

    def candidates(self, word: str) -> set[int]:
        out: set[int] = set()
        for k in self._index_keys(word):
            hit = self._keys.get(k)
            if hit:
                out |= hit
        return out

    def matrix(self, rows: list[str] | tuple[str, ...]) -> list[list[tuple[int, float]]]:
        """For each row word, the (column, similarity) pairs that are non-zero."""
        out = []
        for r in rows:
            found = []
            for j in sorted(self.candidates(r)):
                s = word_similarity(r, self.words[j])
                if s:
                    found.append((j, s))
            out.append(found)
        return out


def tokens(text: str) -> list[Token]:
    """The answer's words, cleaned of fillers and repetitions, with offsets."""
    words = _raw_words(text or "")
    words = _drop_fillers(words)
    words = _numbers(words)
    words = _drop_repeats(words)
    out = []
    for k, (w, s, e) in enumerate(words):
        gap = text[e : words[k + 1][1]] if k + 1 < len(words) else ""
        out.append(
            Token(
                w, s, e, stem(w), phonetic(w), bool(_BOUNDARY.search(gap)),
                bool(_FULL_STOP.search(gap)),
            )
        )
    return out


def is_interjection(toks: list[Token], i: int) -> bool:
    """A "no" that answers rather than negates ("no, it is ...")."""
    if toks[i].norm != "no":
        return False
    nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
    return nxt in {
        "", "it", "i", "the", "that", "this", "they", "we", "you", "because", "but", "so",
        "actually", "well", "its", "there", "a", "an", "yes",
    }  # fmt: skip


RELATIVE = frozenset("which who whom whose where".split())
"""Words that open a relative clause ("unlike an RNN, which ...")."""

_SUBJECTS = frozenset("it they we you i he she this these".split())
"""Pronouns that start a new clause after "unlike X" when no comma was written."""

HEDGES = frozenset("rarely seldom hardly barely scarcely".split())
"""Words that deny most of what follows ("it rarely matches the teacher")."""


def negated_positions(toks: list[Token], scope: int = 6, relative_scope: int = 16) -> list[bool]:
    """For each token, whether an odd number of negations governs it.

    A negation ("not", "never", "without", "rather than", "instead of",
    "unlike", "rarely" ...) covers the words after it up to a clause break
    ("but", "because", ...), a punctuation mark or ``scope`` words. A
    relative clause that describes what was negated belongs to it: in
    "unlike an RNN, which reads one token at a time, a transformer ..." the
    reading one token at a time is the RNN's, so the scope runs on over
    "which ..." (up to ``relative_scope`` more words or its end)."""
    flags = [False] * len(toks)
    for i, t in enumerate(toks):
        cue = (t.is_negation and not is_interjection(toks, i)) or t.norm in HEDGES
        if t.norm == "rather" and i + 1 < len(toks) and toks[i + 1].norm == "than":
            cue = True
        if t.norm == "instead" and i + 1 < len(toks) and toks[i + 1].norm == "of":
            cue = True
        if t.norm == "unlike":
            cue = True
        if not cue:
            continue
        end = min(len(toks), i + 1 + scope)
        j = i + 1
        while j < end:
            if toks[j].norm in CLAUSE_BREAKS and j > i + 1:
                break
            if t.norm == "unlike" and toks[j].norm in _SUBJECTS and j > i + 1:
                break  # "unlike exact search it can miss ...": a new clause starts
            if toks[j - 1].boundary and j > i + 1:
                if (
                    toks[j].norm in RELATIVE
                    and not toks[j - 1].full_stop
                    and end - j < relative_scope
                ):
                    end = min(len(toks), j + relative_scope)
                    flags[j] = not flags[j]
                    j += 1
                    # the relative clause runs to its own end
                    while j < end and not toks[j - 1].boundary:
                        flags[j] = not flags[j]
                        j += 1
                break
            flags[j] = not flags[j]
            j += 1
    return flags


_EXAMPLE_PAIRS = frozenset({("for", "example"), ("for", "instance"), ("such", "as")})
_SENTENCE_END = re.compile(r"^[^\w]*[.;!?)]")


def asides(toks: list[Token], text: str) -> tuple[list[bool], list[bool]]:
    """Two flags per token: inside an example ("e.g. ...", "for example ...",
    "such as ...", up to the end of the sentence or bracket), and part of a
    Latin abbreviation ("e.g.", "i.e.", "etc."), which carries no content.

    A reference's examples illustrate a point that an answer may make with
    other examples (or none), so the matcher weighs them less."""
    n = len(toks)
    example = [False] * n
    abbrev = [False] * n
    inside = False
    for i, t in enumerate(toks):
        w = t.norm
        nxt = toks[i + 1].norm if i + 1 < n else ""
        prev = toks[i - 1].norm if i else ""
        eg = (w == "e" and nxt == "g") or w == "eg"
        if eg or (w == "g" and prev == "e") or (w == "i" and nxt == "e") or (
            w == "e" and prev == "i"
        ) or w in {"ie", "etc"}:
            abbrev[i] = True
        if eg or (w, nxt) in _EXAMPLE_PAIRS:
            inside = True
        example[i] = inside
        if inside and (w == "etc" or not abbrev[i]) and _SENTENCE_END.match(text[t.end : t.end + 3]):
            inside = False
    return example, abbrev


_ANTONYM_PAIRS = (
    ("higher", "lower"), ("high", "low"), ("more", "less"), ("more", "fewer"),
    ("most", "least"), ("increase", "decrease"), ("increases", "decreases"),
    ("increased", "decreased"), ("increasing", "decreasing"), ("rise", "fall"),
    ("faster", "slower"), ("fast", "slow"), ("larger", "smaller"), ("bigger", "smaller"),
    ("large", "small"), ("big", "small"), ("greater", "less"), ("greater", "smaller"),
    ("longer", "shorter"), ("long", "short"), ("stronger", "weaker"), ("strong", "weak"),
    ("heavier", "lighter"), ("hotter", "colder"), ("warmer", "cooler"), ("hot", "cold"),
    ("warm", "cool"), ("above", "below"), ("up", "down"), ("before", "after"),
    ("first", "last"), ("open", "closed"), ("complete", "incomplete"), ("same", "different"),
    ("true", "false"), ("positive", "negative"), ("add", "remove"), ("attract", "repel"),
    ("conductor", "insulator"), ("series", "parallel"), ("north", "south"), ("east", "west"),
    ("inside", "outside"), ("maximum", "minimum"), ("many", "few"), ("wide", "narrow"),
    ("dense", "sparse"), ("static", "dynamic"), ("synchronous", "asynchronous"),
    ("overfitting", "underfitting"), ("encoder", "decoder"), ("input", "output"),
    ("sender", "receiver"), ("upper", "lower"), ("early", "late"), ("earlier", "later"),
)  # fmt: skip
ANTONYMS: dict[str, frozenset[str]] = {}
for _a, _b in _ANTONYM_PAIRS:
    ANTONYMS[_a] = ANTONYMS.get(_a, frozenset()) | {_b}
    ANTONYMS[_b] = ANTONYMS.get(_b, frozenset()) | {_a}
"""Word -> words of opposite meaning. Contextual embeddings place such pairs
close together ("faster" / "slower"), so the matcher must not let one stand
in for the other."""
