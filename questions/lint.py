"""Warnings about a rubric that the matcher would read differently from its author.

A phrasing whose weight rests on one common word credits any answer that
uses that word: 'beam size' for "keeps the B best sequences" is carried by
"size" once "beam" (a word of the question) is demoted, and a misconception
phrased 'quantisation is free' fires on "it frees memory". These checks use
the matcher's own word weights, so they say what the grader will actually do.
"""

from __future__ import annotations

from dataclasses import dataclass

from questions.model import Bank, Question

ONE_WORD_SHARE = 0.8
"""Share of a phrasing's weight on one word at which the phrasing rests on it."""
COMMON_RARITY = 0.7
"""Rarity weight below which a word is common (see ``matcher._rarity``): rare
technical terms ('minitron', 'bm25') may carry a phrasing alone."""


@dataclass(frozen=True)
class Warning_:
    question: str
    where: str
    phrasing: str
    message: str
    line: int = 0

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.question}, {self.where}: {self.message}"


def phrasing_warnings(q: Question) -> list[Warning_]:
    """Phrasings of ``q`` that rest on one common word, or that say nothing
    beyond the question's own words (and so can never match)."""
    from questions import matcher

    qtext = matcher._question_text(q)
    groups = [(f"key point {i}", kp.phrasings) for i, kp in enumerate(q.key_points, 1)]
    groups += [(f"misconception {i}", m.phrasings) for i, m in enumerate(q.misconceptions, 1)]
    out: list[Warning_] = []
    for where, phrasings in groups:
        for p in phrasings:
            u = matcher._unit(p, qtext)
            if not matcher._informative(u):
                out.append(
                    Warning_(q.id, where, p, f"phrasing {p!r} has only words of the question", q.line)
                )
                continue
            total = sum(u.weights)
            j = max(range(len(u.weights)), key=lambda k: u.weights[k])
            word = u.words[u.content[j]]
            if _is_name(p, word):
                continue  # 'ALBERT', 'Laura' (LoRA as heard), '3D': a name, not a common word
            if (
                total > 0
                and u.weights[j] / total >= ONE_WORD_SHARE
                and matcher._rarity(word) < COMMON_RARITY
            ):
                out.append(
                    Warning_(
                        q.id,
                        where,
                        p,
                        f"phrasing {p!r} rests on the common word {word!r}: "
                        "say the idea in two distinctive words",
                        q.line,
                    )
                )
    return out


def _is_name(phrasing: str, word: str) -> bool:
    import re

    for w in re.findall(r"[A-Za-z0-9]+", phrasing):
        if w.lower() == word:
            return w[0].isupper() or any(c.isdigit() for c in w)
    return False


def bank_warnings(bank: Bank) -> list[Warning_]:
    return [w for q in bank.questions for w in phrasing_warnings(q)]
