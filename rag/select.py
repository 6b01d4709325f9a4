"""Select: the sentences of each retrieved passage that bear on the question.

Prompt processing is most of an answer's time on a CPU (issue 16: ~146 prompt tokens/s here), and
four whole 700-character passages are ~700 prompt tokens. So the model is shown, under each
passage's date/title/source header, only the passage's sentences that bear on the question: the
``sentences_per_passage`` best by their weighted share of the question's content words (a word's
weight is its inverse frequency among the retrieved sentences, so that a word every passage shares
counts little), plus the sentence before a kept one when the kept one opens with a pronoun or a
quote that needs its speaker. Sentences keep their document order; a gap is marked "…".

Selection is lexical, against the words of the question, rather than by embedding each sentence:
that needs no extra model call per sentence and the verifier judges the answer by the same words.
``sentences_per_passage = 0`` shows whole passages (the previous behaviour).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.verify import body_sentences, content_words

GAP = "…"
# a sentence that cannot stand alone: it refers back ("He said ...", "This ...") or continues a quote
_NEEDS_CONTEXT = re.compile(r"^(?:[“\"‘']|(?:he|she|they|it|this|that|these|those|his|her|their|its|the minister|the two)\b)",
                            re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """The text shown to the model for one passage and which of its sentences it holds."""

    text: str
    kept: tuple[int, ...]
    total: int


def _weights(question_words: set[str], sentences: list[list[str]]) -> dict[str, float]:
    n = sum(len(s) for s in sentences) or 1
    words = [content_words(s) for sents in sentences for s in sents]  # once per sentence, not per question word
    df = {w: sum(1 for ws in words if w in ws) for w in question_words}
    return {w: math.log(1.0 + n / (1.0 + df[w])) for w in question_words}


def select_sentences(question: str, bodies: list[tuple[str, str | None]], per_passage: int) -> list[Selection]:
    """For each passage body (with its document title, to drop a glued headline), the sentences to show.

    ``per_passage`` sentences are kept per passage (0: all). A passage keeps at least its best
    sentence, even when no question word is in it: retrieval found it for a reason.
    """
    split = [body_sentences(body, title) or [body] for body, title in bodies]
    if per_passage <= 0:
        return [Selection(body.strip(), tuple(range(len(s))), len(s)) for (body, _), s in zip(bodies, split)]
    asked = content_words(question)
    weights = _weights(asked, split)
    out: list[Selection] = []
    for sentences in split:
        scores = []
        for i, sent in enumerate(sentences):
            words = content_words(sent)
            scores.append((sum(weights[w] for w in asked & words), -i))
        best = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)[:per_passage]
        keep = set(best)
        for i in best:
            if i > 0 and _NEEDS_CONTEXT.match(sentences[i]):
                keep.add(i - 1)
        kept = tuple(sorted(keep))
        parts: list[str] = []
        for j, i in enumerate(kept):
            if (j == 0 and i > 0) or (j > 0 and i != kept[j - 1] + 1):
                parts.append(GAP)
            parts.append(sentences[i])
        if kept and kept[-1] < len(sentences) - 1:
            parts.append(GAP)
        out.append(Selection(" ".join(parts), kept, len(sentences)))
    return out
