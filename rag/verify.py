"""Verify: enforce the answer rules on generated text, in code.

* citations ``[n]`` that point to no shown passage are removed;
* every sentence must cite a passage that supports it. "Supports" is measured as the share of
  the sentence's content words (lower-cased, crude suffix-stripped) found in the cited passages
  (their text, heading, title and date line): ``support >= threshold``. An uncited sentence is
  repaired with the best-supporting passage if one passes, otherwise dropped;
* refusals ("The documents do not say ...") are recognised and kept without citations.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
REFUSAL = re.compile(
    r"(documents?|passages?|sources?|texts?|context)\s+(do|does)\s+not\s+(say|mention|contain|state|specify|provide|include|indicate|give)"
    r"|(not|no)\s+(mentioned|stated|specified|provided|information|details?)\s+(in|about|on|regarding)\b"
    r"|there is no (information|mention)|cannot (be )?(answer|determine)",
    re.IGNORECASE,
)
# Regex sentence splitting rather than nltk punkt: punkt needs a data download at run time.
_ABBREVIATIONS = "Mr Mrs Ms Dr St No vs Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Gen Col Lt Prof".split()
_ABBREV = "".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<!\b[A-Z]\.)"
_SENT_END = re.compile(_ABBREV + r"(?<=[.!?])[”\"’)]*\s+(?=[A-Z“\"\[(0-9])")
_COMMON_CAPS = {"according", "passage", "russian", "belarusian", "president", "minister", "foreign", "mr", "ms"}
_STOP = set(
    """a an the and or but of to in on at by for with from as is are was were be been being has have had do does did
    that this these those it its he she they them his her their we our you your i me my not no yes so than then there
    which who whom whose what when where why how also will would can could should may might must shall about into
    over after before during between both each other such only own same too very just said says say according
    one two any all more most some many much while since until up out off again further once here both if
    documents document passage passages""".split()
)


def content_words(text: str) -> set[str]:
    words = re.findall(r"[A-Za-zÀ-ÿА-Яа-яЁё]+|\d+(?:[.,]\d+)?", text.lower())
    return {_stem(w) for w in words if w not in _STOP and (len(w) > 2 or w.isdigit())}


def _stem(word: str) -> str:
    # crude and symmetric (applied to both sides): enough to match visit/visits/visited
    for suffix in ("ing", "ed", "es", "s", "’s", "'s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text.strip())
    if not text:
        return []
    parts = _SENT_END.split(text)
    # A citation that starts a "sentence" belongs to the previous one: "... Brest. [1] Then ..."
    merged: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)(.*)$", part)
        if lead and merged:
            merged[-1] = merged[-1] + " " + lead.group(1).strip()
            part = lead.group(2)
        if part.strip():
            merged.append(part.strip())
    return merged


def body_sentences(body: str, title: str | None = None) -> list[str]:
    """Sentences of a passage; a first sentence glued to the document's dateline and headline (no
    full stop between them: "26 November 2020 18:51 Press release on ... On November 25-26, ...")
    keeps only what follows the headline."""
    out = []
    for sent in split_sentences(body):
        if title and title in sent:
            sent = sent[sent.index(title) + len(title):].strip() or sent
        out.append(sent)
    return out


def citations_in(sentence: str) -> list[int]:
    out: list[int] = []
    for m in CITATION.finditer(sentence):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            if int(n) not in out:
                out.append(int(n))
    return out


def strip_citations(sentence: str) -> str:
    return re.sub(r"\s+([.,;!?])", r"\1", CITATION.sub("", sentence)).strip()


_META = {_stem(w) for w in "question premise premises incorrect wrong correct mistaken assumption assumes assumed false actually however true inaccurate".split()}


def is_meta(text: str) -> bool:
    """A sentence about the question itself ("The premise is wrong."), which needs no citation."""
    words = content_words(text)
    return bool(words) and words <= _META


def is_refusal(text: str) -> bool:
    return bool(REFUSAL.search(text))


_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"}


def entities(text: str) -> set[str]:
    """Names and numbers: capitalised words that are not function words, and digits."""
    out = set()
    for tok in re.findall(r"[A-ZА-ЯЁ][\w’'-]+|\d+(?:[.,]\d+)?", text):
        low = tok.lower()
        if low in _STOP or low in _COMMON_CAPS:
            continue
        out.add(low.rstrip("’'s") if low.endswith(("’s", "'s")) else low)
    return out


def _fuzzy_key(word: str) -> str:
    # Name variants (Sergey/Sergei, Makei/Makey) share a long prefix; numbers must match exactly.
    return word if word[0].isdigit() else word[: min(7, max(4, len(word) - 2))]


def missing_entities(sentence: str, evidence: str) -> set[str]:
    """Entities of ``sentence`` that ``evidence`` never mentions (names compared by prefix)."""
    have: set[str] = set(re.findall(r"\d+(?:[.,]\d+)?", evidence))
    for w in re.findall(r"[^\W\d_][\w’'-]*", evidence.lower()):
        have.update(w[:n] for n in range(4, min(7, len(w)) + 1))
        have.add(w)
    missing = set()
    for e in entities(strip_citations(sentence)):
        if e in _MONTHS:  # "November" is supported by "Nov."
            if not re.search(rf"\b{e[:3]}", evidence, re.IGNORECASE):
                missing.add(e)
        elif _fuzzy_key(e) not in have:
            missing.add(e)
    return missing


_NEGATED = re.compile(r"\b(?:not|rather than|instead of)\s+(?:(?:with|in|on|at|by)\s+)?[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")


def support(sentence: str, evidence: str) -> float:
    """Share of the sentence's content words present in ``evidence``; 0 when a name or number is missing.

    1.0 for a sentence with no content words.
    """
    sentence = _NEGATED.sub(" ", strip_citations(sentence))  # "..., not Makei" needs no support for Makei
    words = content_words(sentence)
    if not words:
        return 1.0
    if missing_entities(sentence, evidence):
        return 0.0
    have = content_words(evidence)
    return len(words & have) / len(words)


@dataclass
class CheckedSentence:
    text: str  # without citation markers
    citations: list[int]  # passage numbers (1-based, as shown to the model)
    support: float
    repaired: bool = False


@dataclass
class Verification:
    sentences: list[CheckedSentence]
    refused: bool
    dropped: list[str] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)


def verify_answer(text: str, evidence: dict[int, str], threshold: float) -> Verification:
    """Check ``text`` against ``evidence`` (passage number → text used to judge support)."""
    kept: list[CheckedSentence] = []
    dropped: list[str] = []
    invalid: list[int] = []
    for sentence in split_sentences(text):
        cites = citations_in(sentence)
        bad = [n for n in cites if n not in evidence]
        invalid.extend(bad)
        cites = [n for n in cites if n in evidence]
        plain = strip_citations(sentence)
        if not plain:
            continue
        if is_refusal(plain) or is_meta(plain):
            kept.append(CheckedSentence(plain, [], 1.0))
            continue
        score = support(plain, " ".join(evidence[n] for n in cites)) if cites else 0.0
        if cites and score >= threshold:
            # keep only the citations that each contribute support, best first
            kept.append(CheckedSentence(plain, cites, score))
            continue
        # repair: the single passage that best supports the sentence
        best_n, best = max(((n, support(plain, ev)) for n, ev in evidence.items()), key=lambda x: x[1], default=(0, 0.0))
        if best >= threshold:
            kept.append(CheckedSentence(plain, [best_n], best, repaired=True))
        else:
            dropped.append(sentence)
    # "The documents do not say X. They say Y [1]." is a refusal with nearby facts; a refusal
    # sentence after cited facts is a partial answer, not a refusal.
    refused = bool(kept) and not kept[0].citations and is_refusal(kept[0].text)
    return Verification(kept, refused, dropped, invalid)


_QUESTION_WORDS = {"what", "who", "whom", "when", "where", "why", "how", "which", "did", "does", "do", "is", "was", "were", "are", "can"}


def premise_conflict(question: str, documents: dict[str, str]) -> tuple[str, str] | None:
    """Two names in ``question`` that no single document mentions together, e.g. ("Makei", "Brest").

    ``documents`` maps a source to its full text. Names unknown to every document are left to
    the support check (they make answers unsupported); only pairs that each exist somewhere but
    never together point at a false premise ("Why did Lavrov meet Makei in Brest?").
    """
    # dates are not names: a question may rightly span two visits ("in November 2020 and in January 2023")
    names = [e for e in entities(question) if e not in _QUESTION_WORDS and e not in _MONTHS and not e[0].isdigit()]
    names.sort(key=lambda n: question.lower().find(n.lower()))  # question order: stable output
    texts = list(documents.values())
    known = [n for n in names if any(not missing_entities(n.capitalize(), t) for t in texts)]
    for i, a in enumerate(known):
        for b in known[i + 1 :]:
            if not any(not missing_entities(f"{a.capitalize()} {b.capitalize()}", t) for t in texts):
                return a.capitalize(), b.capitalize()
    return None
