"""Brief: cited briefings and timelines across every document that bears on a topic.

Selection (a topic briefing or timeline) is by passage, over the whole collection:

* candidates: the retriever's fused (dense + BM25) passages for the topic and for each of its clauses
  ("X and Y", "X; Y": :func:`subqueries`);
* relevance: the share of a query's word weight a passage holds, a word weighing
  log(documents / documents holding it) (:func:`word_weights`): a word every document holds says
  nothing about which passages are on the topic, a word one document holds says most;
* a document is on the topic when one of its candidates holds ``brief_min_topic_share`` of the topic's
  (or a clause's) weight, in two of its words when the query has three weighted words or more, its
  document's year and month counting as its words; then every passage of it whose text holds some of
  the weight is a candidate, so a document that holds much of the topic is never left out because
  another document scores higher (the old rule: best BM25 score at least half the best document's);
* choice: each document on the topic gets its best passage first, then maximal marginal relevance
  (relevance against content-word overlap with the passages already chosen, ``brief_mmr_lambda``) fills
  the budget (``brief_max_passages``, at most ``brief_passages_per_doc`` of one document).

Briefing = map (per document: its chosen passages → 2-3 cited bullets, each verified claim by claim
like an answer, the topic as the question) → near-duplicate bullets merged, both citations kept
(:func:`same_claim`) → organised (by the event's date for a chronology) → reduce (title and lead from
the bullets, verified; a lead sentence that copies a bullet is dropped). Passage numbers are global
and renumbered to the final source list, which lists each document once with its cited passages.

Timeline = dated sentences taken from the documents themselves (so events from different
visits never merge and dates are never invented), plus, for a document whose text dates
nothing, its main event written by the model and dated by the document's metadata; lines of one
date naming the same people are one event, shown once with every citation.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from langchain_core.output_parsers import StrOutputParser
from wordfreq import zipf_frequency

from ingest.metadata import MONTH_NAMES, MONTHS, DocDate, _is_dateline, find_dates, parse_iso
from rag.answer import Answerer, Citation, evidence_text
from rag.config import Settings
from rag.prompts import format_passages, load_prompt
from rag.retrieve import Passage
from rag.verify import (NAME_MAX_ZIPF, CheckedSentence, body_sentences, content_words, normalise_numbers,
                        strip_citations, support, verify_answer)

Progress = Callable[[str], None]

# A topic asking for events in date order: its bullets are dated and sorted like a timeline's.
_CHRONOLOGY = re.compile(r"\b(?:chronolog\w*|timelines?|time line|in (?:date |time |chronological )?order|"
                         r"sequence of events)\b", re.IGNORECASE)


def is_chronology(topic: str | None) -> bool:
    return bool(topic) and bool(_CHRONOLOGY.search(topic or ""))


def _selection_topic(topic: str) -> str:
    """The topic without the words that ask for a chronology ("Timeline of X" is searched as "X")."""
    rest = re.sub(r"\s{2,}", " ", _CHRONOLOGY.sub(" ", topic)).strip(" ,;:-")
    return rest if content_words(rest) else topic


@dataclass
class Briefing:
    topic: str | None
    markdown: str
    citations: list[Citation]
    bullets: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    lead: str = ""  # the verified lead with its [n] marks ("" when none survived)

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "briefing": self.markdown, "citations": [c.to_json() for c in self.citations]}


def _date_sort_key(date: DocDate | None) -> tuple:
    """Known years first, in date order; then dates whose year is unknown; then undated."""
    if date is None:
        return (2, 0, 0, 0)
    if date.year is None:
        return (1, 0, date.month, date.day)
    return (0, date.year, date.month, date.day)


@dataclass
class TimelineEvent:
    date: DocDate | None
    text: str
    passage: Passage
    source_order: int = 0
    also: list[Passage] = field(default_factory=list)  # other passages telling the same event (merged lines)

    def sort_key(self) -> tuple:
        return _date_sort_key(self.date) + (self.source_order,)

    @property
    def date_label(self) -> str:
        return self.date.label if self.date else "Date unknown"


@dataclass
class _Fact:
    """A verified statement (bullet or lead sentence): plain text and its global passage numbers."""

    text: str
    citations: list[int]
    date: DocDate | None = None

    def absorb(self, other: "_Fact") -> None:
        """Take in a duplicate: keep the more informative wording, and every citation."""
        if len(content_words(other.text)) > len(content_words(self.text)):
            self.text, self.citations = other.text, other.citations + [n for n in self.citations if n not in other.citations]
        else:
            self.citations = self.citations + [n for n in other.citations if n not in self.citations]


@dataclass
class _Candidate:
    passage: Passage
    relevance: float
    fused: float  # the retriever's fused score over the best one's (0 when the retriever did not return it)
    words: frozenset[str]

    @property
    def source(self) -> str:
        return self.passage.meta.get("source", "?")


class Briefer:
    """Builds briefings and timelines with an Answerer's store, retriever and model."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.settings: Settings = answerer.settings
        llm = answerer.llm
        self.map_chain = load_prompt("brief_map") | llm | StrOutputParser()
        self.reduce_chain = load_prompt("brief_reduce") | llm | StrOutputParser()
        self.event_chain = load_prompt("timeline_event") | llm | StrOutputParser()
        self._words: tuple[tuple, dict[str, frozenset[str]]] | None = None

    # --- gathering
    def gather(self, topic: str | None, progress: Progress | None = None) -> list[tuple[str, list[Passage]]]:
        """Per document that bears on ``topic`` (all documents when None): its chosen passages in reading
        order; documents in date order."""
        store = self.answerer.store
        docs: list[tuple[str, list[Passage]]] = []
        if topic:
            by_doc: dict[str, list[Passage]] = {}
            for p in self.select(_selection_topic(topic)):
                by_doc.setdefault(p.meta.get("source", "?"), []).append(p)
            docs = [(source, sorted(ps, key=_chunk_index)) for source, ps in by_doc.items()]
        else:
            for info in store.sources():
                chunks = sorted(store.get(where={"source": info.source}), key=_chunk_index)
                docs.append((info.source, [Passage(c, 1.0) for c in chunks[: self.settings.brief_passages_per_doc]]))
        docs.sort(key=lambda d: _date_key(d[1][0].meta))
        return docs

    def select(self, topic: str) -> list[Passage]:
        """The passages a briefing on ``topic`` maps, in the order chosen (see the module docstring)."""
        s = self.settings
        retriever = self.answerer.retriever
        queries = [topic] + subqueries(topic, s.brief_subqueries)
        pool: dict[str, Passage] = {}
        fused: dict[str, float] = {}
        best_dense = 0.0
        for query in queries:
            r = retriever.run(query, top_k=2 * s.candidates)  # every fused candidate (dense k + BM25 k)
            best_dense = max(best_dense, r.best_dense)
            top = max((p.score for p in r.passages), default=0.0) or 1.0
            for p in r.passages:
                pool.setdefault(p.chunk.id, p)
                fused[p.chunk.id] = max(fused.get(p.chunk.id, 0.0), p.score / top)
        if not pool or best_dense < s.min_score:
            return []
        doc_words = self._document_words()
        held = set().union(*doc_words.values()) if doc_words else set()
        if not content_words(topic) & held:
            return []  # no document holds any of the topic's words: dense similarity alone cannot tell
        weights = [w for w in (word_weights(q, list(doc_words.values())) for q in queries) if sum(w.values()) > 0]
        if not weights:
            # every topic word is in every document (or there is one document): nothing singles out a
            # passage lexically, so the retriever's order is the relevance
            cands = [_Candidate(p, fused[i], fused[i], _text_words(p.chunk.text)) for i, p in pool.items()]
        else:
            def on_the_topic(chunk) -> tuple[float, float]:
                """(share, loose share): the best share of a query's weight the passage holds in enough of
                its words (two when the query has three weighted words or more: one word shared with such
                a topic, a year or a title, is too often a coincidence; else one), and the best share
                however few words hold it. Its words include its document's year and month here."""
                have = _passage_words(chunk)
                strict = loose = 0.0
                for w in weights:
                    share = topic_share(w, have)
                    loose = max(loose, share)
                    weighted = [k for k, v in w.items() if v > 0]
                    if sum(k in have for k in weighted) >= (2 if len(weighted) >= 3 else 1):
                        strict = max(strict, share)
                return strict, loose

            strength: dict[str, tuple[float, float]] = {}
            on_pool: set[str] = set()
            for p in pool.values():
                src = p.meta.get("source", "?")
                strict, loose = on_the_topic(p.chunk)
                old = strength.get(src, (0.0, 0.0))
                strength[src] = (max(old[0], strict), max(old[1], loose))
                if strict >= s.brief_min_topic_share:
                    on_pool.add(p.chunk.id)
            on_topic = sorted(src for src, (strict, _) in strength.items() if strict >= s.brief_min_topic_share)
            if not on_topic:
                # no passage holds that much of the topic: the documents holding the most of it stand for it
                top = max((loose for _, loose in strength.values()), default=0.0)
                on_topic = sorted(src for src, (_, loose) in strength.items() if top > 0 and loose == top)
            cands = []
            for source in on_topic:
                for chunk in self.answerer.store.get(where={"source": source}):
                    # ranked by the words of its own text (its document's date is the same for all its
                    # passages); a passage on the topic by its date alone may still stand for its document
                    have = _text_words(chunk.text)
                    rel = max(topic_share(w, have) for w in weights)
                    if rel > 0 or chunk.id in on_pool:
                        p = pool.get(chunk.id) or Passage(chunk, 0.0)
                        cands.append(_Candidate(p, rel, fused.get(chunk.id, 0.0), have))
        chosen = mmr(cands, s.brief_max_passages, s.brief_passages_per_doc, s.brief_mmr_lambda)
        return [c.passage for c in chosen]

    def _document_words(self) -> dict[str, frozenset[str]]:
        """The words of each stored document (its passages' :func:`_passage_words`), for word weights;
        cached until the store changes."""
        store = self.answerer.store
        key = (id(store), store.version, store.count())
        if self._words is None or self._words[0] != key:
            docs: dict[str, set[str]] = {}
            for chunk in store.get():
                docs.setdefault(chunk.metadata.get("source", "?"), set()).update(_passage_words(chunk))
            self._words = (key, {source: frozenset(w) for source, w in docs.items()})
        return self._words[1]

    def _verify(self, text: str, evidence: dict[int, str], question: str) -> list[CheckedSentence]:
        """Claim-level check (rag.verify): each claim must rest on one passage; topic names restated
        count as the question's, not as support."""
        s = self.settings
        checked = verify_answer(text, evidence, s.support_threshold, question=question,
                                max_cited=s.max_cited, window=s.support_window)
        return [c for c in checked.sentences if c.citations]

    # --- briefing
    def briefing(self, topic: str | None, progress: Progress | None = None) -> Briefing:
        progress = progress or (lambda _m: None)
        s = self.settings
        docs = self.gather(topic, progress)
        label = topic or "the whole collection"
        if not docs:
            return Briefing(topic, f"# Briefing: {label}\n\nThe documents do not say anything about this topic.\n", [])
        question = _selection_topic(topic) if topic else ""
        numbered: list[Passage] = []
        per_doc: list[list[_Fact]] = []
        for i, (source, passages) in enumerate(docs, start=1):
            progress(f"[{i}/{len(docs)}] summarising {source}")
            first = len(numbered) + 1
            numbered.extend(passages)
            nums = list(range(first, first + len(passages)))
            block = format_passages((n, p.meta, p.chunk.text) for n, p in zip(nums, passages))
            raw = clean_citation_marks(self.map_chain.invoke({"topic": label, "passages": block}))
            evidence = {n: evidence_text(n, p) for n, p in zip(nums, passages)}
            raw = "\n".join(_bullet_line(line) for line in raw.splitlines() if line.strip())
            per_doc.append([_Fact(clean_text(c.text), list(c.citations)) for c in self._verify(raw, evidence, question)])
        # the same claim from two passages or documents is one bullet citing both; then every document
        # keeps a share of the bullets (a plain cut in date order dropped the last documents' bullets)
        facts = _share(merge_duplicates(per_doc, s.brief_dedup_overlap), s.brief_max_bullets)
        chronological = is_chronology(topic)
        if chronological:
            facts = self._in_date_order(facts, numbered)
        progress("writing the lead")
        title, lead = label, []
        if facts:
            bullet_text = "\n".join(f"- {f.text} " + "".join(f"[{n}]" for n in f.citations) for f in facts)
            out = clean_citation_marks(self.reduce_chain.invoke({"topic": label, "bullets": bullet_text}))
            title, lead_raw = _title_and_lead(out, label)
            evidence = {n: evidence_text(n, p) for n, p in enumerate(numbered, start=1)}
            lead = [_Fact(clean_text(c.text), list(c.citations)) for c in self._verify(lead_raw, evidence, question)]
            # a lead sentence that repeats a bullet says nothing the bullets do not: dropped
            lead = [f for f in lead if not copies_a_bullet(f.text, [b.text for b in facts], s.brief_dedup_overlap)]
        order: dict[int, int] = {}
        for f in lead + facts:
            for n in f.citations:
                order.setdefault(n, len(order) + 1)
        citing: dict[int, list[str]] = {}
        for f in lead + facts:
            for n in f.citations:
                citing.setdefault(order[n], []).append(f.text)
        cite = lambda f: _with_marks(f.text, [order[n] for n in f.citations])  # noqa: E731
        citations = [Citation.from_passage(new, numbered[old - 1]) for old, new in sorted(order.items(), key=lambda x: x[1])]
        bullets = [(f"**{f.date.label if f.date else 'Date unknown'}** — " if chronological else "") + cite(f) for f in facts]
        lead_text = " ".join(cite(f) for f in lead)
        md = [f"# {title}", ""]
        if lead_text:
            md += [lead_text, ""]
        md += [f"- {b}" for b in bullets] or ["The documents hold no supported statement on this topic."]
        md += ["", "## Sources", ""] + _source_lines(citations, citing, s.brief_quote_chars)
        return Briefing(topic, "\n".join(md) + "\n", citations, bullets, lead=lead_text)

    def _in_date_order(self, facts: list[_Fact], numbered: list[Passage]) -> list[_Fact]:
        """Date each bullet as the timeline dates a sentence (its own day and month, the year from its
        document when close, else "year unknown"; no date in the text: its document's date), sort by
        date, and merge bullets of one date naming the same people (one line per event)."""
        for f in facts:
            doc_date = parse_iso(numbered[f.citations[0] - 1].meta.get("date"))
            dates = find_dates(f.text)
            f.date = _resolve_year(dates[0][1], doc_date, self.settings.brief_year_window_days) if dates else doc_date
        facts = sorted(facts, key=lambda f: _date_sort_key(f.date))
        out: list[_Fact] = []
        for f in facts:
            twin = next((k for k in out if k.date is not None and k.date == f.date and same_event(k.text, f.text)), None)
            if twin is None:
                out.append(f)
            else:
                twin.absorb(f)
        return out

    # --- timeline
    def timeline(self, topic: str | None, progress: Progress | None = None) -> Briefing:
        progress = progress or (lambda _m: None)
        s = self.settings
        docs = self.gather(topic, progress)
        focus = _selection_topic(topic) if topic else ""
        events: list[TimelineEvent] = []
        for i, (source, passages) in enumerate(docs, start=1):
            progress(f"[{i}/{len(docs)}] dating events in {source}")
            doc_date = parse_iso(passages[0].meta.get("date"))
            chunks = sorted(self.answerer.store.get(where={"source": source}), key=_chunk_index)
            found = _dated_sentences(chunks, doc_date, i, title=passages[0].meta.get("title"),
                                     window_days=s.brief_year_window_days)
            if topic:
                found = [e for e in found if support(focus, e.text) > 0 or any(e.passage.chunk.id == p.chunk.id for p in passages)]
            # A document whose own date is unknown may date only side events (its main ones undated):
            # its main events are added, shown as "Date unknown" rather than guessed.
            if not found or doc_date is None:
                groups = [passages] if topic else _sections(chunks, passages, s.brief_max_sections, s.brief_passages_per_doc)
                for group in groups:
                    found.append(self._main_event(group, doc_date, i, focus))
            events.extend(e for e in found if e is not None)
        events.sort(key=TimelineEvent.sort_key)
        events = merge_events(events, s.brief_dedup_overlap)
        citations: list[Citation] = []
        by_chunk: dict[str, int] = {}
        citing: dict[int, list[str]] = {}
        lines = []
        for e in events:
            nums: list[int] = []
            for p in [e.passage] + e.also:
                n = by_chunk.get(p.chunk.id)
                if n is None:
                    n = by_chunk[p.chunk.id] = len(by_chunk) + 1
                    citations.append(Citation.from_passage(n, p))
                if n not in nums:
                    nums.append(n)
                    citing.setdefault(n, []).append(e.text)
            lines.append(f"- **{e.date_label}** — {_with_marks(_inert(e.text), nums)}")
        title = f"Timeline: {topic}" if topic else "Timeline"
        md = [f"# {title}", ""] + (lines or ["The documents hold no dated events on this topic."])
        md += ["", "## Sources", ""] + _source_lines(citations, citing, s.brief_quote_chars)
        return Briefing(topic, "\n".join(md) + "\n", citations, [l[2:] for l in lines])

    def _main_event(self, passages: list[Passage], doc_date: DocDate | None, order: int,
                    question: str = "") -> TimelineEvent | None:
        block = format_passages((n, p.meta, p.chunk.text) for n, p in enumerate(passages, start=1))
        raw = clean_citation_marks(self.event_chain.invoke({"passages": block}))
        evidence = {n: evidence_text(n, p) for n, p in enumerate(passages, start=1)}
        checked = self._verify(raw, evidence, question)
        if not checked:
            return None
        c = checked[0]
        return TimelineEvent(doc_date, clean_text(c.text), passages[c.citations[0] - 1], order)


# ----------------------------------------------------------------------------- selection

# Where a topic's clauses meet: "X and Y", "X; Y", "X, Y" (not the comma of a date: "March 15, 2020").
_CLAUSE_BREAK = re.compile(r"(\s*;\s*|,\s+(?!\d)(?:and\s+)?|\s+and\s+)", re.IGNORECASE)


def subqueries(topic: str, limit: int) -> list[str]:
    """The topic's clauses, each searched on its own too: "Nuclear weapons and security guarantees in
    Russia-Belarus relations" → ["Nuclear weapons", "security guarantees in Russia-Belarus relations"].
    A piece of fewer than two content words stays with its neighbour, so that names joined by "and"
    ("between Lukashenko and Putin") or a lone word ("Sanctions and ...") are not split off. At most
    ``limit``; [] when the topic is one clause."""
    if limit <= 0:
        return []
    pieces = _CLAUSE_BREAK.split(topic.strip())
    parts = [pieces[0]]
    for sep, text in zip(pieces[1::2], pieces[2::2]):
        if len(content_words(text)) < 2 or len(content_words(parts[-1])) < 2:
            parts[-1] += sep + text
        else:
            parts.append(text)
    parts = [p.strip(" ,;") for p in parts if p.strip(" ,;")]
    return parts[:limit] if len(parts) > 1 else []


def word_weights(query: str, docs: Sequence[frozenset[str]]) -> dict[str, float]:
    """Each content word of ``query``: log(documents / documents holding it) (``docs``: each document's
    words); 0 for a word every document holds (it cannot tell which passages are on the topic) and for
    one no document holds (nothing can match it: "overview", "briefing" and the like must not lower
    every passage's share). Document frequency rather than passage frequency: with passage frequency,
    names every document holds ("Lavrov", "Minsk") weighed enough to put every visit on the topic of
    one visit (looked at on the dev topics: see rag/config.py, brief_min_topic_share)."""
    n = len(docs)
    out: dict[str, float] = {}
    for w in content_words(query):
        df = sum(w in d for d in docs)
        out[w] = math.log(n / df) if df else 0.0
    return out


@functools.lru_cache(maxsize=65536)
def _date_words(year: Any, month: Any) -> frozenset[str]:
    words: set[str] = {str(year)} if year else set()
    if isinstance(month, int) and 1 <= month <= 12:
        words |= content_words(MONTH_NAMES[month - 1])
    return frozenset(words)


def _passage_words(chunk) -> frozenset[str]:
    """A passage's content words, plus its document's year and month: a passage is dated by its
    document (as the map prompt tells the model), so "26 November" in an article of 2020 matches a topic
    naming November 2020."""
    m = chunk.metadata
    return _text_words(chunk.text) | _date_words(m.get("year"), m.get("month"))


@functools.lru_cache(maxsize=65536)
def _text_words(text: str) -> frozenset[str]:
    return frozenset(content_words(text))


def topic_share(weights: dict[str, float], words: Iterable[str]) -> float:
    """Share of the query's word weight that a passage with ``words`` holds."""
    total = sum(weights.values())
    words = set(words)
    return sum(v for w, v in weights.items() if w in words) / total if total > 0 else 0.0


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def mmr(cands: list[_Candidate], budget: int, per_doc: int, lam: float) -> list[_Candidate]:
    """Maximal marginal relevance over passages, every document first: the best passage of each
    document (best documents first, up to ``budget``), then repeatedly the candidate of some relevance
    maximising ``lam * relevance - (1 - lam) * max content-word Jaccard with a chosen passage``, at most
    ``per_doc`` from one document. Ties go to the retriever's order.

    Redundancy is lexical, not the embeddings' cosine: over the 1,431 pairs of seed passages, content-
    word Jaccard separates overlapping neighbours from passages of other documents better (effect size
    1.22 against cosine's 0.97; same document, not adjacent: 0.61 against 0.35) and needs no vectors
    from the store. Its values are small (0.05-0.2), so relevance leads and redundancy decides near-ties."""
    ranked = sorted(cands, key=lambda c: (-c.relevance, -c.fused, c.source, _chunk_index(c.passage.chunk)))
    firsts: dict[str, _Candidate] = {}
    for c in ranked:
        firsts.setdefault(c.source, c)
    chosen = list(firsts.values())[:budget]
    count = {c.source: 1 for c in chosen}
    rest = [c for c in ranked if all(c is not k for k in chosen)]
    while len(chosen) < budget:
        open_ = [c for c in rest if count.get(c.source, 0) < per_doc and c.relevance > 0]
        if not open_:
            break
        pick = max(open_, key=lambda c: lam * c.relevance - (1 - lam) * max(_jaccard(c.words, k.words) for k in chosen))
        chosen.append(pick)
        count[pick.source] = count.get(pick.source, 0) + 1
        rest.remove(pick)
    return chosen


# ----------------------------------------------------------------------------- duplicates and events

_NAME_RUN = re.compile(r"[A-ZА-ЯЁ][\w’'-]*(?:\.?\s+[A-ZА-ЯЁ][\w’'-]*)*")


@functools.lru_cache(maxsize=8192)
def _rare(word: str) -> bool:
    return zipf_frequency(word, "en") < NAME_MAX_ZIPF


def _name_key(word: str) -> str:
    w = word.lower()
    w = w[:-2] if w.endswith(("’s", "'s")) else w
    return w[: min(7, max(4, len(w) - 2))]  # name variants share a long prefix (Sergey/Sergei)


@functools.lru_cache(maxsize=4096)
def fact_keys(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names, when) of a statement: the last rare word of each run of capitalised words (a surname:
    "Sergey Lavrov" → lavrov; "Foreign Minister" and other common words are not names), and its
    numbers and month names."""
    plain = normalise_numbers(strip_citations(text))
    names: set[str] = set()
    for run in _NAME_RUN.findall(plain):
        rare = [w for w in re.findall(r"[^\W\d_][\w’'-]*", run) if w.lower() not in MONTHS and _rare(w)]
        if rare:
            names.add(_name_key(rare[-1]))
    when = set(re.findall(r"\d+(?:[.,/]\d+)*", plain))
    when |= {f"month{MONTHS[m.lower()]}" for m in re.findall(r"\b([A-Z][a-z]{2,8})\b", plain) if m.lower() in MONTHS}
    return frozenset(names), frozenset(when)


def _overlap(a: set[str], b: set[str]) -> float:
    """Share of the smaller word set found in the other."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def same_claim(a: str, b: str, overlap: float) -> bool:
    """Do two statements say the same thing? Either most of the shorter one's content words are in the
    other (``overlap``) and so are all its names, numbers and months ("Lavrov met Makei on 26 November"
    is not "Lavrov met Lukashenko on 26 November in Sochi"), or both name the same people and places
    (two or more) at the same time, the numbers and months of one all in the other: "On 26 November,
    Lukashenko met Sergei Lavrov" and "Lavrov was received by Alexander Lukashenko on 26 November 2020"."""
    ca, cb = content_words(a), content_words(b)
    (na, wa), (nb, wb) = fact_keys(a), fact_keys(b)
    if len(ca) > len(cb):
        (na, wa), (nb, wb) = (nb, wb), (na, wa)  # a: the shorter
    if _overlap(ca, cb) >= overlap and na <= nb and wa <= wb:
        return True
    return len(na) >= 2 and na == nb and bool(wa) and bool(wb) and (wa <= wb or wb <= wa)


def same_event(a: str, b: str) -> bool:
    """Two lines already known to share a date tell one event when the names of one are all in the other."""
    na, nb = fact_keys(a)[0], fact_keys(b)[0]
    return bool(na) and bool(nb) and (na <= nb or nb <= na)


def merge_duplicates(per_doc: list[list[_Fact]], overlap: float) -> list[list[_Fact]]:
    """Per document, its bullets less those that repeat an earlier one (of any document); the earlier
    bullet takes the repeat's citations (and its wording when that says more)."""
    kept: list[_Fact] = []
    out: list[list[_Fact]] = []
    for doc in per_doc:
        mine: list[_Fact] = []
        for f in doc:
            twin = next((k for k in kept if same_claim(f.text, k.text, overlap)), None)
            if twin is None:
                kept.append(f)
                mine.append(f)
            else:
                twin.absorb(f)
        out.append(mine)
    return out


def merge_events(events: list[TimelineEvent], overlap: float) -> list[TimelineEvent]:
    """One line per event: a line of the same date as a kept one that names the same people (or, undated,
    says the same) is merged into it, which keeps the fuller wording and cites both passages."""
    out: list[TimelineEvent] = []
    for e in events:
        twin = next((k for k in out if k.date == e.date and (
            same_claim(k.text, e.text, overlap) or (e.date is not None and same_event(k.text, e.text)))), None)
        if twin is None:
            out.append(e)
            continue
        passages = [twin.passage] + twin.also + [e.passage] + e.also
        if len(content_words(e.text)) > len(content_words(twin.text)):
            twin.text = e.text
            passages = [e.passage] + e.also + [twin.passage] + twin.also
        seen: set[str] = set()
        unique = [p for p in passages if not (p.chunk.id in seen or seen.add(p.chunk.id))]
        twin.passage, twin.also = unique[0], unique[1:]
    return out


def copies_a_bullet(sentence: str, bullets: Sequence[str], overlap: float) -> bool:
    """A lead sentence most of whose content words (``overlap``) are those of one bullet."""
    words = content_words(sentence)
    return bool(words) and any(len(words & content_words(b)) / len(words) >= overlap for b in bullets)


# ----------------------------------------------------------------------------- citation marks

_MARK_WORDS = re.compile(r"\[\s*(?:passages?|sources?|refs?|p\.)\s*(?=\d)", re.IGNORECASE)
_MARK_RANGE = re.compile(r"\[\s*(\d+)\s*[-–]\s*(\d+)\s*\]")
# a cluster of brackets, digits and separators holding a citation, well formed or not:
# "[ [1]", "[1]]", "[[2]]", "[1, [2]", "[1" (never closed), "[ ]"
_MARK_CLUSTER = re.compile(r"\[[\s\[\],;^\d]*\]|\[[\s\[,;^\d]*\d")


def _range(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    return "".join(f"[{n}]" for n in range(a, b + 1)) if 0 <= b - a <= 5 else m.group(0)


def _unmatched_brackets(line: str) -> str:
    """``line`` without the brackets that open or close nothing."""
    drop: set[int] = set()
    stack: list[int] = []
    for i, ch in enumerate(line):
        if ch == "[":
            stack.append(i)
        elif ch == "]":
            if stack:
                stack.pop()
            else:
                drop.add(i)
    drop.update(stack)
    return "".join(ch for i, ch in enumerate(line) if i not in drop)


def clean_citation_marks(text: str) -> str:
    """Model output with its citation marks made well formed, line by line: "Minsk [ [1]." →
    "Minsk [1].", "[1]]" → "[1]", "[1, [2]" → "[1][2]", "[Passage 3]" → "[3]", "[1-2]" → "[1][2]",
    "[1" → "[1]"; empty "[ ]" and brackets that open or close nothing removed. Other bracketed
    text ("[sic]") is kept."""
    out = []
    for line in text.splitlines():
        line = _MARK_RANGE.sub(_range, _MARK_WORDS.sub("[", line))

        def marks(m: re.Match) -> str:
            nums = list(dict.fromkeys(re.findall(r"\d+", m.group(0))))
            return "".join(f"[{n}]" for n in nums)

        line = _unmatched_brackets(_MARK_CLUSTER.sub(marks, line))
        line = re.sub(r"\(\s*\)", "", line)
        out.append(re.sub(r"\s+([.,;!?])", r"\1", re.sub(r"[ \t]{2,}", " ", line)).rstrip())
    return "\n".join(out)


def clean_text(text: str) -> str:
    """A verified sentence's text with no citation marks and no stray bracket left ("Minsk [." → "Minsk.")."""
    return strip_citations(clean_citation_marks(text)).strip()


def _inert(text: str) -> str:
    """Document text shown in a briefing: its own "[12]" markers must not pass for citations."""
    return re.sub(r"\[(\d+)\]", r"(\1)", text)


# ----------------------------------------------------------------------------- timeline helpers

def _chunk_index(chunk_or_passage: Any) -> int:
    chunk = getattr(chunk_or_passage, "chunk", chunk_or_passage)
    return int(chunk.metadata.get("chunk_index", 0) or 0)


def _dated_sentences(chunks, doc_date: DocDate | None, order: int, title: str | None = None,
                     window_days: int | None = None) -> list[TimelineEvent]:
    """Sentences that carry a day+month date, dated from the text (year from the document when safe).

    Sentences are split per paragraph, so a dateline on its own line never glues onto the next
    sentence and lends it the publication date. A dated sentence keeps the next sentence of its
    paragraph when that one continues the same event (see ``_continues``): "On November 25-26,
    Lavrov paid a working visit to Minsk ... Mr Lavrov ... held talks with his Belarusian
    counterpart, Vladimir Makei." — otherwise the counterpart is lost from the timeline line.
    """
    events: list[TimelineEvent] = []
    seen: set[str] = set()
    for chunk in chunks:
        for paragraph in re.split(r"\n\s*\n", chunk.body):
            sents = body_sentences(paragraph, title)
            for i, sent in enumerate(sents):
                if _is_dateline(sent) or sent in seen:
                    continue
                dates = find_dates(sent)
                if not dates:
                    continue
                seen.add(sent)
                text = sent.strip()
                if i + 1 < len(sents) and _continues(text, sents[i + 1]):
                    text = f"{text} {sents[i + 1].strip()}"
                date = _resolve_year(dates[0][1], doc_date, window_days)
                events.append(TimelineEvent(date, text, Passage(chunk, 1.0), order))
    return events


_PRONOUNS = {"he", "she", "they"}
_NOT_NAMES = {"The", "This", "That", "These", "It", "In", "On", "At", "But", "And"}


def _continues(dated: str, following: str, max_chars: int = 300) -> bool:
    """Does ``following`` go on about the dated event? It has no date of its own, is short, and its
    subject (first three words) is a pronoun or a capitalised name the dated sentence also names."""
    if find_dates(following) or len(following) > max_chars:
        return False
    words = re.findall(r"[A-Za-z][\w'-]*", following)[:3]
    if words and words[0].lower() in _PRONOUNS:
        return True
    names = set(re.findall(r"\b[A-Z][a-z]{2,}\b", dated)) - _NOT_NAMES
    return any(w in names for w in words)


def _sections(chunks, fallback: list[Passage], max_sections: int | None = None,
              per_section: int | None = None) -> list[list[Passage]]:
    """The first passages of each section of a document (text before its first heading counts as
    one), at most ``max_sections``: an undated document that reports several events under its own
    headings gets one main event per section, not only the first section's."""
    max_sections = Settings.brief_max_sections if max_sections is None else max_sections
    per_section = Settings.brief_passages_per_doc if per_section is None else per_section
    groups: dict[str, list[Passage]] = {}
    for chunk in chunks:
        key = (chunk.metadata.get("heading") or "").split(" — ")[0]
        if key not in groups and len(groups) == max_sections:
            continue
        group = groups.setdefault(key, [])
        if len(group) < per_section:
            group.append(Passage(chunk, 1.0))
    return list(groups.values()) or [fallback]


def _resolve_year(date: DocDate, doc_date: DocDate | None, window_days: int | None = None) -> DocDate:
    """Give a yearless date a year only when it falls within ``window_days`` (``brief_year_window_days``)
    of the document's date: in the document's year, or across New Year ("on 19 December" in an article
    of 12 January 2023 is 19 December 2022). Anything further away stays year-unknown: it could be any year."""
    window = Settings.brief_year_window_days if window_days is None else window_days
    if date.year or not doc_date or not doc_date.year:
        return date
    try:
        anchor = dt.date(doc_date.year, doc_date.month, doc_date.day)
    except ValueError:
        return date
    for year in (doc_date.year, doc_date.year - 1, doc_date.year + 1):
        try:
            candidate = dt.date(year, date.month, date.day)
        except ValueError:  # 29 February in a common year
            continue
        if abs((candidate - anchor).days) <= window:
            return DocDate(date.month, date.day, year)
    return date


def _date_key(meta: dict) -> tuple:
    return _date_sort_key(parse_iso(meta.get("date")))


# ----------------------------------------------------------------------------- map/reduce text

def _bullet_line(line: str) -> str:
    """One bullet per sentence: strip list markers so the verifier sees plain sentences."""
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line.strip())
    return line if re.search(r"[.!?](?:\s*\[\d+\])*$|\]$", line) else line + "."


def _title_and_lead(text: str, fallback: str) -> tuple[str, str]:
    title, lead = fallback, ""
    for line in text.splitlines():
        m = re.match(r"^\s*\**(title|lead)\**\s*:\s*(.+)$", line, re.I)
        if m and m.group(1).lower() == "title":
            title = clean_text(m.group(2)).strip("*# ") or fallback
        elif m:
            lead = m.group(2).strip()
    return title, lead


def _share(per_doc: list[list[_Fact]], limit: int) -> list[_Fact]:
    """At most ``limit`` bullets, taken round-robin over the documents (first bullets first);
    returned in document (date) order."""
    kept: list[tuple[int, int, _Fact]] = []
    for rank in range(max((len(d) for d in per_doc), default=0)):
        for i, doc in enumerate(per_doc):
            if len(kept) < limit and rank < len(doc):
                kept.append((i, rank, doc[rank]))
    return [f for *_, f in sorted(kept, key=lambda x: (x[0], x[1]))]


def _with_marks(text: str, numbers: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in numbers)
    m = re.match(r"^(.*?)([.!?]*)$", text.strip(), re.S)
    return f"{m.group(1)} {marks}{m.group(2) or '.'}"


# ----------------------------------------------------------------------------- sources

def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _quote(c: Citation, citing: Sequence[str], limit: int) -> str:
    """The sentence of the cited passage that shares most words with each text citing it (each once, in
    passage order, joined by " … "), each at most ``limit`` characters (cut at a word, "…")."""
    sentences = body_sentences(c.text, c.title) or [c.text]
    picked: list[int] = []
    for text in citing or [""]:
        want = content_words(text)
        best = max(range(len(sentences)), key=lambda i: (len(want & content_words(sentences[i])), -i))
        if best not in picked:
            picked.append(best)
    out = []
    for i in sorted(picked):
        quote = _inert(_one_line(sentences[i]))
        if len(quote) > limit:
            quote = quote[:limit].rsplit(" ", 1)[0].rstrip(" ,;:…") + "…"
        out.append(quote)
    return " … ".join(out)


def _source_lines(citations: list[Citation], citing: dict[int, list[str]], limit: int) -> list[str]:
    """One entry per document, in order of its first citation, with each cited passage under it:

    - Title — 26 November 2020 — `source.txt`
      - [1] “the sentence the bullet rests on…”
      - [4] p. 3 — “…”
    """
    groups: dict[str, list[Citation]] = {}
    for c in sorted(citations, key=lambda c: c.n):
        groups.setdefault(c.source, []).append(c)
    lines: list[str] = []
    for source, cs in groups.items():
        first = cs[0]
        lines.append(f"- {_one_line(first.title or source)} — {first.date_label or 'no date'} — `{source}`")
        for c in cs:
            page = f"{c.page_label} — " if c.page_label else ""
            lines.append(f"  - [{c.n}] {page}“{_quote(c, citing.get(c.n, []), limit)}”")
    return lines


__all__ = ["Briefer", "Briefing", "TimelineEvent", "MONTH_NAMES", "clean_citation_marks", "is_chronology",
           "same_claim", "subqueries"]
