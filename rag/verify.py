"""Verify: ground every answer sentence in the passages shown, in code.

No entailment model ships with anything installable here, so support is judged lexically, at the
level of a sentence's claims, against *all* the passages shown:

* citations ``[n]`` that point to no shown passage are removed;
* a sentence's **names and numbers** (capitalised words that the passages never write in lower
  case, and numbers, with number words read as digits: "three" = "3", "twenty-fifth" = "25th"; a
  fraction or a range bound is one number: "1/4", "2-1/4") must each be found in the passages
  shown; name variants match by a long common prefix (Sergey/Sergei), a month by its abbreviation
  ("November" = "Nov."), other words by their Snowball stem (promise/promised);
* each **claim** (clause) of a sentence rests on one shown passage, which holds all its names and
  numbers within ``window`` consecutive sentences, so that words scattered over a passage do not
  make up a pairing it never states (the passage's header, its document's title, month and year,
  goes with every sentence of it: "the January 2023 report"), and each **count** it states ("two
  members", "six agreements") as a count of the same thing (the word after the number, within
  ``COUNT_REACH`` words in the passage): "2 percent" and three names do not make "two members";
  a sentence may rest on up to
  ``max_cited`` passages, one per claim, and each citation points to the passage holding its claim;
* the share of a claim's content words found in its passage, names restated from the question
  apart, must reach the threshold (``support_threshold``);
* an **unsupported detail** (a name, year or day found in no shown passage, such as a year the
  passage does not give) is cut with its preposition, and the rest kept if it still holds a
  supported claim; only a sentence with no supported claim is dropped; an unfound quantity is not a
  detail ("raised the range to 5 percent" without the 5 says nothing): its sentence is dropped,
  unless the question stated it, when it is cut with its range and unit ("to 0 to 1/4 percent");
* each **list item** ("\n- ...", "\n2. ...") is a sentence of its own; a list's lead-in ("... as
  follows:") is kept uncited, if it is supported or only restates the question, and only before a
  kept item;
* refusals ("The documents do not say ...") and remarks about the question ("The premise is
  wrong.") are kept without citations.

:func:`premise_conflict` checks the question's names against the documents before the model is asked.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Iterable

from wordfreq import zipf_frequency

from rag.dates import MONTH_ABBREVIATIONS, MONTH_NAMES, MONTH_STEMS, MONTHS, NUMBER, YEAR
from rag.prompts import PASSAGE_HEADER

CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
REFUSAL = re.compile(
    r"(documents?|passages?|sources?|texts?|context)\s+(do|does)\s+not\s+(say|mention|contain|state|specify|provide|include|indicate|give)"
    r"|(not|no)\s+(mentioned|stated|specified|provided|information|details?)\s+(in|about|on|regarding)\b"
    r"|there is no (information|mention)|cannot (be )?(answer|determine)",
    re.IGNORECASE,
)
# Regex sentence splitting rather than nltk punkt: punkt needs a data download at run time.
_ABBREVIATIONS = ["Mr", "Mrs", "Ms", "Dr", "St", "No", "vs", *(a.capitalize() for a in MONTH_ABBREVIATIONS),
                  "Gen", "Col", "Lt", "Prof"]
# single capitals ("U.S.", "J. Powell") and dotted lower-case ones ("5:00 p.m. EDT", "e.g. this")
_ABBREV = "".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<!\b[A-Z]\.)(?<!\b[a-z]\.[a-z]\.)"
_SENT_END = re.compile(_ABBREV + r"(?<=[.!?])[”\"’)]*\s+(?=[A-Z“\"\[(0-9])")
_STOP = set(
    """a an the and or but of to in on at by for with from as is are was were be been being has have had do does did
    that this these those it its he she they them his her their we our you your i me my not no yes so than then there
    which who whom whose what when where why how also will would can could should may might must shall about into
    over after before during between both each other such only own same too very just said says say according
    one two any all more most some many much while since until up out off again further once here both if
    documents document passage passages mr mrs ms""".split()
)
_MONTHS = frozenset(name.lower() for name in MONTH_NAMES)
# In the premise check a capitalised word is a name only if it is rare as an English word: adjectives
# of nationality ("American" 5.5), titles ("President" 5.5, "Chair" 4.7) and other common words
# capitalised in a question are not names that a false premise pairs. Zipf scale (wordfreq): 4.5 is
# about once in 30,000 words. Chosen on the dev split.
NAME_MAX_ZIPF = 4.5
# What is left of a sentence after an unsupported detail is cut must have this share of its new
# content words in its passage (above the usual threshold: the model already invented once in it).
CUT_MIN_SUPPORT = 0.75


_FIRST = re.compile(r"\b((?:[Ff]irst|FIRST)(?:ly)?)\b")


@functools.lru_cache(maxsize=8192)
def normalise_numbers(text: str) -> str:
    """Number words as digits ("three" → "3", "twenty-fifth" → "25th"); "one" stays a word, as in "one
    of", and so does "first", which orders things ("the first statement") far more often than it counts."""
    from text_to_num import alpha2digit

    try:
        return "".join(part if i % 2 else alpha2digit(part, "en", threshold=1)
                       for i, part in enumerate(_FIRST.split(text)))
    except Exception:  # the converter never fails on text in practice; a verifier must not crash on one
        return text


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer (Snowball), already installed for bm25s

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Snowball English stems (the stemmer bm25s uses), applied to both sides: visit/visits/visited,
    # promise/promised. (The suffix list it replaced matched neither promise/promised nor reduce/reduced.)
    return _stemmer().stemWord(word)


_WORD = re.compile(rf"[A-Za-zÀ-ÿА-Яа-яЁё]+|{NUMBER}")


def content_words(text: str) -> set[str]:
    words = _WORD.findall(normalise_numbers(text).lower())
    return {_stem(w) for w in words if w not in _STOP and (len(w) > 2 or w.isdigit())}


# A list item starts a new sentence whatever ends the line before it ("... as follows:\n- 27 July: ..."),
# and its marker is not part of it: each item is a claim of its own, checked on its own.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+")


def split_sentences(text: str) -> list[str]:
    parts = [p for item in _LIST_ITEM.split("\n" + text.strip())
             for p in _SENT_END.split(re.sub(r"\s+", " ", item.strip())) if item.strip()]
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


# words of a list's lead-in that make no claim ("... are as follows:", "the following cities:")
_LEAD_IN = {_stem(w) for w in "following follows listed list below these include includes including described mentioned".split()}


def is_meta(text: str) -> bool:
    """A sentence about the question itself ("The premise is wrong."), which needs no citation."""
    words = content_words(text)
    return bool(words) and words <= _META


def is_refusal(text: str) -> bool:
    return bool(REFUSAL.search(text))


# a hyphenated compound of names ("Russia-Belarus") is one name per part, matched part by part
_ENTITY = re.compile(rf"[A-ZА-ЯЁ][\w’']+|{NUMBER}")


def _entity_key(token: str) -> str:
    low = token.lower()
    return low[:-2] if low.endswith(("’s", "'s")) else low


def entities(text: str, common: Iterable[str] = ()) -> set[str]:
    """Names and numbers of ``text``: capitalised words that are not function words (nor in
    ``common``, lower-case words known to be ordinary words), and digits (number words included)."""
    common = set(common)
    out = set()
    for tok in _ENTITY.findall(normalise_numbers(text)):
        key = _entity_key(tok)
        if key in _STOP or key in common:
            continue
        out.add(key)
    return out


def _fuzzy_key(word: str) -> str:
    # Name variants (Sergey/Sergei, Makei/Makey) share a long prefix; numbers must match exactly.
    return word if word[0].isdigit() else word[: min(7, max(4, len(word) - 2))]


@dataclass(frozen=True)
class _Text:
    """What the verifier needs of one passage (or question), computed once per text."""

    words: frozenset[str]  # content words, stemmed
    keys: frozenset[str]  # every word's prefixes of 4-7 letters, whole words, and numbers
    lower: frozenset[str]  # words the text writes in lower case (ordinary words, not names)
    sentence_keys: tuple[frozenset[str], ...]  # ``keys`` of each sentence, in order
    raw: str
    header_keys: frozenset[str] = frozenset()  # ``keys`` of its passage header but day numbers (see _header_keys)
    counted: frozenset[tuple[str, str]] = frozenset()  # (number, stem) of what each number counts (see counts)


def _keys_of(text: str) -> set[str]:
    text = normalise_numbers(text)
    have: set[str] = set(re.findall(NUMBER, text))
    for w in re.findall(r"[^\W\d_][\w’']*", text.lower()):
        have.update(w[:n] for n in range(4, min(7, len(w)) + 1))
        have.add(w)
        if w.endswith(("’s", "'s")):
            have.add(w[:-2])
    # a month is named by its abbreviation too ("Nov. 22"): index the full name's key
    for m in re.findall(rf"\b({MONTH_STEMS})[a-z]*\.?", text.lower()):
        have.update(_fuzzy_key(full) for full in _MONTHS if full.startswith(m))
    return have


@functools.lru_cache(maxsize=4096)
def _analyse(text: str) -> _Text:
    sentences = split_sentences(text) or [text]
    header = PASSAGE_HEADER.match(text)
    return _Text(frozenset(content_words(text)), frozenset(_keys_of(text)),
                 frozenset(re.findall(r"\b[a-zа-яё][\w’'-]*", normalise_numbers(text))),
                 tuple(frozenset(_keys_of(s)) for s in sentences), text,
                 _header_keys(header.group(0)) if header else frozenset(),
                 frozenset(counts(text, reach=COUNT_REACH)))


def _header_keys(header: str) -> frozenset[str]:
    # The header's title words, month and year date every sentence of the passage ("the January 2023
    # report"); its day numbers do not, or "... ends on January 12" would pass on a header's "12 January".
    return frozenset(k for k in _keys_of(header) if not k[0].isdigit() or re.fullmatch(YEAR, k))


# What a number counts is the word that follows it ("three members", "six interregional agreements",
# "2 percent"); a passage states that count when the word comes within this many words after the number
# ("six interregional agreements" holds "six agreements").
COUNT_REACH = 3


def counts(text: str, reach: int = 1) -> set[tuple[str, str]]:
    """(number, stem) pairs: each number of ``text`` with the stems of the ``reach`` words after it,
    when the first of them is an ordinary word ("3 members" → ("3", "member")). A year, a day of a
    month, a number followed by another number or a function word ("1/2 to 3/4") counts nothing."""
    tokens = _WORD.findall(normalise_numbers(text))
    out: set[tuple[str, str]] = set()
    for i, tok in enumerate(tokens):
        if not tok[0].isdigit() or re.fullmatch(YEAR, tok):
            continue
        for nxt in tokens[i + 1:i + 1 + reach]:
            low = nxt.lower()
            if nxt[0].isdigit() or low in _STOP or low in MONTHS or len(low) < 3:
                break
            out.add((tok, _stem(low)))
    return out


def missing_entities(sentence: str, evidence: str) -> set[str]:
    """Entities of ``sentence`` that ``evidence`` never mentions (names compared by prefix)."""
    ev = _analyse(evidence)
    return {e for e in entities(strip_citations(sentence), ev.lower) if _fuzzy_key(e) not in ev.keys}


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
    return len(words & _analyse(evidence).words) / len(words)


@dataclass
class CheckedSentence:
    text: str  # without citation markers
    citations: list[int]  # passage numbers (1-based, as shown to the model)
    support: float
    repaired: bool = False  # its citations were chosen by the verifier, not the model
    cut: bool = False  # an unsupported detail was removed from the model's sentence


@dataclass
class Verification:
    sentences: list[CheckedSentence]
    refused: bool
    dropped: list[str] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Grounding:
    """How one sentence rests on the passages: the citations that hold its claim, and its support."""

    citations: tuple[int, ...]
    support: float  # share of the sentence's new content words found in the cited passages
    unfound: frozenset[str] = frozenset()  # names/numbers found in no shown passage (details to cut)


def _in_window(keys: set[str], passage: _Text, window: int) -> bool:
    """All ``keys`` occur within ``window`` consecutive sentences of ``passage``."""
    keys = keys - passage.header_keys  # the header (document date, title) goes with every sentence
    if len(keys) <= 1:
        return True
    sents = passage.sentence_keys
    span = max(1, min(window, len(sents)))
    return any(keys <= set().union(*sents[i:i + span]) for i in range(0, max(1, len(sents) - span + 1)))


# Where one claim of a sentence ends and the next begins: "..., and Mester dissented", "...; the
# Committee also ...", "..., while ...". A plain comma or "and" between words of one claim does not.
_CLAIM_BREAK = re.compile(r"\s*;\s+|,\s+(?:and|but|while|whereas|and\s+then)\s+|\s+(?:and|but)\s+(?=[A-Z])"
                          r"|(?<=\w{3})\s+and\s+(?=(?:in|on|at|from|to|by|for|during|after|before|since)\s)")


def claims(sentence: str) -> list[str]:
    """The claims of one sentence, split where a new clause (usually with its own subject) begins.

    (Merging pieces under four words into their neighbour, so that "Lavrov and Makei met" stays one
    claim, lowered recall on the labelled dev cases 0.957 -> 0.915 with no gain in precision.)"""
    return [c.strip(" ,;") for c in _CLAIM_BREAK.split(sentence) if c.strip(" ,;")]


@dataclass(frozen=True)
class _ClaimGround:
    passage: int | None  # the passage holding the claim; None when the claim only restates the question
    support: float
    unfound: frozenset[str]  # details to cut: names/numbers in no shown passage, or numbers the closest passage lacks


def _ground_claim(claim: str, texts: dict[int, _Text], asked: _Text | None, lower: frozenset[str],
                  all_keys: frozenset[str], prefer: tuple[int, ...], window: int) -> _ClaimGround:
    """The one passage that best holds ``claim``.

    The passage must hold every name and number of the claim, within ``window`` sentences of each
    other. Support is the share of the claim's content words the passage holds, not counting the
    names restated from the question (those are checked as names above): so "Ryzhenkov signed the
    declaration" for "Who signed the declaration?" needs a passage pairing the two, and a restated
    name never stands in for the answer's own words.
    """
    names = {_fuzzy_key(e): e for e in entities(claim, lower)}
    unfound = frozenset(e for k, e in names.items() if k not in all_keys)
    if unfound:
        return _ClaimGround(None, 0.0, unfound)
    restated = {k for k in names if asked and k in asked.keys}
    blanked = claim
    for k in restated:
        blanked = re.sub(rf"\b{re.escape(names[k])}\b", " ", blanked, flags=re.IGNORECASE)
    words = content_words(blanked)
    if not words and not set(names) - restated:
        return _ClaimGround(None, 1.0, frozenset())  # it only restates the question's names
    # a count must be the passage's count of the same thing: "two members voted against" is not
    # supported by a passage's "2 percent" and three names
    counted = counts(claim) - (counts(asked.raw) if asked else set())
    best: tuple[float, int, int] | None = None
    for n, text in texts.items():
        if not set(names) <= text.keys or not _in_window(set(names), text, window):
            continue
        if not counted <= text.counted:
            continue
        score = (len(words & text.words) / len(words) if words else 1.0, int(n in prefer), -n)
        if best is None or score > best:
            best = score
    if best is None:
        # a year that the passage holding the rest of the claim does not give is a detail to cut, like
        # a number no passage gives: "met on 26 November, 2023" → "met on 26 November" (only years: cutting
        # other numbers changes what a sentence says, "0 to 1/4 percent" → "to 1/4 percent")
        closest = max(texts.values(), key=lambda tx: len(set(names) & tx.keys))
        missing = {k for k in names if k not in closest.keys}
        if missing and len(missing) <= 2 and all(re.fullmatch(YEAR, k) for k in missing):
            return _ClaimGround(None, 0.0, frozenset(names[k] for k in missing))
        return _ClaimGround(None, 0.0, frozenset())
    return _ClaimGround(-best[2], best[0], frozenset())


def ground(sentence: str, evidence: dict[int, str], question: str = "", prefer: Iterable[int] = (),
           max_cited: int = 3, window: int = 3) -> Grounding:
    """Citations for ``sentence``: each of its claims (see :func:`claims`) rests on one passage.

    The sentence's support is its weakest claim's; ``prefer`` (the model's own citations) wins a
    tie. At most ``max_cited`` passages. Names restated from the question must stand in the claim's
    own passage: measured on the 244 labelled cases (precision / recall), own passage dev 0.747 /
    0.956, test 0.714 / 0.778; other shown passages of the same document dev 0.717 / 0.971, test
    0.725 / 0.822; the whole document dev 0.714 / 0.957; any shown passage dev 0.613 / 0.979. The
    same-document rule also kept a false premise restated from the question ("held in Moscow") in
    tests/rag/test_answer.py, so it was not adopted, at the cost of correct answers that restate a
    place or speaker from another passage (seed dev q06, q11). Re-measured 2026-12-02 on 329 cases
    with restated *names* only allowed in the document's other shown passages: dev 0.755 / 0.952 →
    0.739 / 0.976, test 0.706 / 0.828 → 0.704 / 0.862, and on the replayed question evals it answered
    q06 and q11 but also unanswerable q50 (test unchanged): not adopted.
    """
    plain = _NEGATED.sub(" ", strip_citations(sentence))  # "..., not Makei" needs no support for Makei
    texts = {n: _analyse(t) for n, t in evidence.items()}
    if not texts:
        return Grounding((), 0.0)
    if not content_words(plain):
        return Grounding((), 1.0)
    lower = frozenset().union(*(t.lower for t in texts.values()))
    all_keys = frozenset().union(*(t.keys for t in texts.values()))
    asked = _analyse(question) if question else None
    prefer = tuple(n for n in prefer if n in texts)
    parts = [_ground_claim(c, texts, asked, lower, all_keys, prefer, window) for c in claims(plain)]
    unfound = frozenset().union(*(p.unfound for p in parts))
    if unfound:
        return Grounding((), 0.0, unfound)
    cited = tuple(dict.fromkeys(p.passage for p in parts if p.passage is not None))
    if not cited or len(cited) > max_cited:
        return Grounding((), 0.0)
    return Grounding(cited, min(p.support for p in parts))


_PREPOSITIONS = r"(?:in|on|at|of|since|during|by|from|for|to|with|and|or)"
_MONTH_WORD = rf"(?:{MONTH_STEMS})[a-z]*\.?"  # "Nov.", "November", as in _keys_of


def is_detail(key: str, sentence: str) -> bool:
    """Can the name or number ``key`` (an entity key) be cut from ``sentence`` as a detail? A name,
    a year or a day of a month can ("in 2021", "on 23 November"); another number is what the
    sentence states ("raised the range to 2-1/4 percent", "six agreements"): without it the rest
    says something else or nothing, so an unfound quantity drops the sentence instead."""
    if not key[0].isdigit() or re.fullmatch(YEAR, key):
        return True
    k = re.escape(key)
    return bool(re.search(rf"{_MONTH_WORD}\s+{k}\b|\b{k}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_WORD}", sentence, re.IGNORECASE))


def _quantity(key: str) -> str:
    """Pattern of the quantity ``key`` (a number) with the range it bounds, its currency and unit:
    "to 0 to 1/4 percent", "$3 billion", not the bare "0" or "3"."""
    return (rf"(?:[$€£¥]\s*)?(?:\b{NUMBER}\s*(?:to|-|–|and)\s*)?\b{re.escape(key)}\b(?:\s*(?:to|-|–|and)\s*{NUMBER}\b)?"
            rf"(?:\s*(?:%|percent(?:age points?)?|per cent|basis points?|thousand|million|billion|trillion|bn)(?!\w))?")


_DETERMINERS = ("the", "a", "an", "its", "his", "her", "their", "this", "that")


def cut_details(sentence: str, details: Iterable[str]) -> str:
    """``sentence`` without the words that state ``details`` (entity keys), with their preposition:
    "Lavrov met Makei in Minsk in 2020" minus {"2020"} → "Lavrov met Makei in Minsk"."""
    out = sentence
    lead = rf"(?:,\s*)?(?:\b{_PREPOSITIONS}\s+(?:the\s+)?)?"
    for key in details:
        day = key[0].isdigit() and len(key) <= 2
        if key[0].isdigit() and not re.fullmatch(YEAR, key) and not is_detail(key, out):
            word = _quantity(key)
        elif key[0].isdigit():
            # a day goes with its month ("on November 23", "23 November"); a year alone ("..., 2024")
            word = (rf"(?:{_MONTH_WORD}\s+)?\b{re.escape(key)}(?:st|nd|rd|th)?\b(?:\s+{_MONTH_WORD})?"
                    if day else rf"\b{re.escape(key)}\b")
        else:
            word = rf"\b{re.escape(key)}(?:’s|'s)?\b"
        # a detail that qualifies the next word goes alone: "according to the 2022 overview" → "according
        # to the overview", "at the Brest meeting" → "at the meeting", not "according overview"
        modifier = (r"(?:" + "|".join(rf"(?<=\b{d} )" for d in _DETERMINERS) + rf"){word}"
                    rf"(?=\s+(?!{_PREPOSITIONS}\b)[a-z])")
        pattern = lead + word + r"(?:\s*,)?"
        if not re.search(pattern, out, flags=re.IGNORECASE):
            out = normalise_numbers(out)  # a number the sentence writes in words ("in twenty twenty")
        if not day and re.search(modifier, out, flags=re.IGNORECASE):
            out = re.sub(modifier, " ", out, count=1, flags=re.IGNORECASE)
        elif day and re.search(pattern + rf"\s*{YEAR}\b", out, flags=re.IGNORECASE):
            out = re.sub(pattern + rf"\s*(?={YEAR}\b)", " in ", out, count=1, flags=re.IGNORECASE)  # "on November 23, 2020" → "in 2020"
        else:
            out = re.sub(pattern, " ", out, count=1, flags=re.IGNORECASE)
    out = re.sub(r"\s+([.,;!?])", r"\1", re.sub(r"\s{2,}", " ", out)).strip(" ,;")
    if sentence[:1].isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]  # "In 2021 the delegations ..." → "The delegations ..."
    return out


# A phrase of 12 or more characters said three or more times in a row: a small model caught in a loop
# ("... at the invitation of his counterpart, Vladimir Putin, at the invitation of his counterpart,
# Vladimir Putin, ..." until max_tokens). Every word of it is in the passage, so support alone keeps it.
_LOOP = re.compile(r"(\b\S.{11,}?)(?:\s*\1){2,}", re.S)


def collapse_repeats(text: str) -> str:
    """``text`` with each phrase repeated three or more times in a row said once, and the cut-off copy
    that trails the loop (where the output hit its token limit) dropped."""
    out, pos = [], 0
    for m in _LOOP.finditer(text):
        unit = m.group(1)
        out.append(text[pos:m.start()] + unit)
        rest = text[m.end():]
        lead = len(rest) - len(rest.lstrip())
        common = 0
        while common < min(len(unit), len(rest) - lead) and unit[common] == rest[lead + common]:
            common += 1
        pos = m.end() + (lead + common if common >= 12 else 0)
    out.append(text[pos:])
    collapsed = "".join(out)
    # "... Vladimir Putin, [2]." → "... Vladimir Putin [2]."
    return re.sub(r"[\s,;:]+(?=\[\d)", " ", collapsed) if collapsed != text else text


def verify_answer(text: str, evidence: dict[int, str], threshold: float, question: str = "",
                  max_cited: int = 3, window: int = 3) -> Verification:
    """Check ``text`` against ``evidence`` (passage number → text used to judge support).

    ``question``: the names a sentence restates from it do not count towards its word support
    (see :func:`ground`).
    """
    kept: list[CheckedSentence] = []
    dropped: list[str] = []
    invalid: list[int] = []
    asked = entities(question) if question else set()
    for sentence in split_sentences(collapse_repeats(text)):
        cites = citations_in(sentence)
        invalid.extend(n for n in cites if n not in evidence)
        cites = [n for n in cites if n in evidence]
        plain = strip_citations(sentence)
        if not plain:
            continue
        if is_refusal(plain) or is_meta(plain):
            kept.append(CheckedSentence(plain, [], 1.0))
            continue
        g = ground(plain, evidence, question, cites, max_cited, window)
        if plain.endswith(":"):
            # the lead-in of a list ("The reductions described are as follows:"): its items carry the
            # claims and citations; kept uncited if it is supported or only restates the question, and
            # only before a kept item of its list (below)
            if (g.citations and g.support >= threshold) or content_words(plain) <= content_words(question) | _LEAD_IN:
                kept.append(CheckedSentence(plain, [], 1.0))
            else:
                dropped.append(sentence)
            continue
        cut = False
        # a number restated from the question is its premise, not the model's claim: cut as a detail
        if g.unfound and all(key in asked or is_detail(key, plain) for key in g.unfound):
            # an unsupported detail is cut, not the answer: keep the rest if it still says something new
            shorter = cut_details(plain, g.unfound)
            rest = content_words(shorter) - (content_words(question) if question else set())
            if shorter and shorter != plain and rest:
                g2 = ground(shorter, evidence, question, cites, max_cited, window)
                # a sentence that invented a detail is suspect: what is left must be clearly grounded
                if g2.citations and g2.support >= max(threshold, CUT_MIN_SUPPORT):
                    plain, g, cut = shorter + ("" if shorter[-1:] in ".!?" else "."), g2, True
        if g.citations and g.support >= threshold:
            kept.append(CheckedSentence(plain, list(g.citations), g.support, repaired=set(g.citations) != set(cites), cut=cut))
        else:
            dropped.append(sentence)
    # a list's lead-in stays only before a kept item of its list
    kept = [k for i, k in enumerate(kept) if not (k.text.endswith(":") and not k.citations)
            or (i + 1 < len(kept) and kept[i + 1].citations)]
    # "The documents do not say X. They say Y [1]." is a refusal with nearby facts; a refusal
    # sentence after cited facts is a partial answer, not a refusal.
    refused = bool(kept) and not kept[0].citations and is_refusal(kept[0].text)
    return Verification(kept, refused, dropped, invalid)


_QUESTION_WORDS = {"what", "who", "whom", "when", "where", "why", "how", "which", "did", "does", "do", "is", "was", "were", "are", "can"}


def _is_name(word: str, lower: frozenset[str]) -> bool:
    """A capitalised word of a question that can name someone or somewhere: not written in lower case
    by the documents, and rare as an English word (see ``NAME_MAX_ZIPF``)."""
    return word not in lower and zipf_frequency(word, "en") < NAME_MAX_ZIPF


def premise_conflict(question: str, documents: dict[str, str]) -> tuple[str, str] | None:
    """Two names in ``question`` that no single document mentions together, e.g. ("Makei", "Brest").

    ``documents`` maps a source to its full text. Names unknown to every document are left to
    the support check (they make answers unsupported); only pairs that each exist somewhere but
    never together point at a false premise ("Why did Lavrov meet Makei in Brest?").
    """
    texts = [_analyse(t) for t in documents.values()]
    lower = frozenset().union(*(t.lower for t in texts)) if texts else frozenset()
    # dates are not names: a question may rightly span two visits ("in November 2020 and in January 2023")
    names = [e for e in entities(question) if e not in _QUESTION_WORDS and e not in _MONTHS and not e[0].isdigit()
             and _is_name(e, lower)]
    names.sort(key=lambda n: question.lower().find(n.lower()))  # question order: stable output
    known = [n for n in names if any(_fuzzy_key(n) in t.keys for t in texts)]
    for i, a in enumerate(known):
        for b in known[i + 1 :]:
            if not any(_fuzzy_key(a) in t.keys and _fuzzy_key(b) in t.keys for t in texts):
                return a.capitalize(), b.capitalize()
    return None
