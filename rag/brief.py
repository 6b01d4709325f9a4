"""Brief: cited briefings and timelines across every document that bears on a topic.

Briefing = map (per document: its relevant passages → 2-3 cited bullets, verified like answers)
then reduce (a lead written from the verified bullets, verified too; the title is the topic), then
the room the bullets leave filled with the documents' own sentences on the topic, quoted
(:func:`topic_quotes`). Passage numbers are global across the briefing and renumbered to the final
source list at the end.

Timeline = dated sentences taken from the documents themselves (so events from different
visits never merge and dates are never invented), plus, for a document whose text dates
nothing, its main event written by the model and dated by the document's metadata.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableConfig

from rag.answer import Answerer, Citation, citation_marks, evidence_text, renumber, with_marks
from rag.dates import DocDate, find_dates, is_dateline, parse_iso
from rag.prompts import format_passages, load_prompt
from rag.retrieve import Filters, Passage
from rag.select import select_sentences
from rag.verify import CheckedSentence, body_sentences, content_words, strip_citations, support, verify_answer

Progress = Callable[[str], None]
# The knobs (bullets, passages per document, sections, the lexical share a document needs, the year
# window of a yearless date, the quote length) are Settings fields, brief_*: see rag/config.py.


@dataclass
class Briefing:
    topic: str | None
    markdown: str
    citations: list[Citation]
    bullets: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "briefing": self.markdown, "citations": [c.to_json() for c in self.citations]}


@dataclass
class TimelineEvent:
    date: DocDate | None
    text: str
    passage: Passage
    source_order: int = 0

    def sort_key(self) -> tuple:
        if self.date is None:
            return (2, 0, 0, 0, self.source_order)
        if self.date.year is None:
            return (1, 0, self.date.month, self.date.day, self.source_order)
        return (0, self.date.year, self.date.month, self.date.day, self.source_order)

    @property
    def date_label(self) -> str:
        return self.date.label if self.date else "Date unknown"


class Briefer:
    """Builds briefings and timelines with an Answerer's store, retriever and model."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.settings = answerer.settings
        llm = answerer.llm
        self.map_chain = load_prompt("brief_map") | llm | StrOutputParser()
        self.reduce_chain = load_prompt("brief_reduce") | llm | StrOutputParser()
        self.event_chain = load_prompt("timeline_event") | llm | StrOutputParser()

    # --- gathering
    def gather(self, topic: str | None) -> list[tuple[str, list[Passage]]]:
        """Per document that bears on ``topic`` (all documents when None): its most relevant passages."""
        store = self.answerer.store
        docs: list[tuple[str, list[Passage]]] = []
        lexical = self.answerer.retriever.lexical_scores(topic) if topic else {}
        top = max(lexical.values(), default=0.0)
        for info in store.sources():
            if topic and top > 0 and lexical.get(info.source, 0.0) < self.settings.brief_doc_min_lexical * top:
                continue  # the topic's rare words (names, places) are much weaker here than in the best document
            if topic:
                r = self.answerer.retriever.run(topic, Filters(sources=(info.source,)), top_k=self.settings.brief_passages_per_doc)
                if not r.passages or r.best_dense < self.settings.min_score:
                    continue
                passages = r.passages
            else:
                chunks = store.chunks_of(info.source)
                passages = [Passage(c, 1.0) for c in chunks[:self.settings.brief_passages_per_doc]]
            docs.append((info.source, passages))
        docs.sort(key=lambda d: _date_key(d[1][0].meta))
        return docs

    # --- briefing
    def briefing(self, topic: str | None, progress: Progress | None = None,
                 config: RunnableConfig | None = None) -> Briefing:
        """A cited briefing on ``topic`` (the whole collection when None). ``config`` (a LangChain
        RunnableConfig: callbacks, tags, metadata) is passed to every model call."""
        progress = progress or (lambda _m: None)
        docs = self.gather(topic)
        label = topic or "the whole collection"
        if not docs:
            return Briefing(topic, f"# Briefing: {label}\n\nThe documents do not say anything about this topic.\n", [])
        numbered: list[Passage] = []
        per_doc: list[list[CheckedSentence]] = []
        numbered_per_doc: list[list[tuple[int, Passage]]] = []
        for i, (source, passages) in enumerate(docs, start=1):
            progress(f"[{i}/{len(docs)}] summarising {source}")
            first = len(numbered) + 1
            numbered.extend(passages)
            nums = list(range(first, first + len(passages)))
            block = format_passages((n, p.meta, p.chunk.text) for n, p in zip(nums, passages))
            raw = self.map_chain.invoke({"topic": label, "passages": block}, config)
            evidence = {n: evidence_text(n, p) for n, p in zip(nums, passages)}
            raw = "\n".join(_bullet_line(line) for line in raw.splitlines() if line.strip())
            checked = verify_answer(raw, evidence, self.settings.support_threshold)
            per_doc.append([s for s in checked.sentences if s.citations and not _says_only_header(s, passages[0])])
            numbered_per_doc.append(list(zip(nums, passages)))
        # Every mapped document is on the topic (see gather), so each keeps a share of the bullets:
        # a plain cut in date order dropped the last documents' bullets (--all lost the Brest visit).
        shared = _share(per_doc, self.settings.brief_max_bullets)
        sentences = [s for _, s in shared]
        progress("writing the lead")
        bullet_text = "\n".join(f"- {s.text} " + citation_marks(s.citations) for s in sentences)
        # The title is the topic as asked: a model-written title is text that no check verifies (one
        # called Lavrov "Russian President"); only the reduce step's lead is used.
        title, lead = f"Briefing: {label}", []
        if sentences:
            out = self.reduce_chain.invoke({"topic": label, "bullets": bullet_text}, config)
            lead_raw = _lead(out)
            evidence = {n: evidence_text(n, p) for n, p in enumerate(numbered, start=1)}
            lead = [s for s in verify_answer(lead_raw, evidence, self.settings.support_threshold).sentences if s.citations
                    and not any(_repeats(s, b) for b in sentences)]
        room = self.settings.brief_max_bullets - len(shared)
        if topic and self.settings.brief_fill_quotes and room > 0:
            # the room the model's bullets leave is filled with the documents' own sentences on the
            # topic, quoted, after each document's bullets (the lead stays written from the bullets)
            quotes = [topic_quotes(topic, numbered_doc, bullets) for numbered_doc, bullets in zip(numbered_per_doc, per_doc)]
            shared = sorted(shared + _share(quotes, room, kept=sentences), key=lambda x: x[0])  # stable
            sentences = [s for _, s in shared]
        order, citations = renumber(lead + sentences, numbered)
        def cite(s: CheckedSentence) -> str:
            return with_marks(s.text.strip(), [order[n] for n in s.citations])
        bullets = [cite(s) for s in sentences]
        md = [f"# {title}", ""]
        if lead:
            md += [" ".join(cite(s) for s in lead), ""]
        md += [f"- {b}" for b in bullets] or ["The documents hold no supported statement on this topic."]
        md += ["", "## Sources", ""] + _source_lines(citations, self.settings.brief_quote_chars)
        return Briefing(topic, "\n".join(md) + "\n", citations, bullets)

    # --- timeline
    def timeline(self, topic: str | None, progress: Progress | None = None,
                 config: RunnableConfig | None = None) -> Briefing:
        """A cited timeline of ``topic`` (the whole collection when None); ``config`` as for
        :meth:`briefing`."""
        progress = progress or (lambda _m: None)
        docs = self.gather(topic)
        events: list[TimelineEvent] = []
        for i, (source, passages) in enumerate(docs, start=1):
            progress(f"[{i}/{len(docs)}] dating events in {source}")
            doc_date = parse_iso(passages[0].meta.get("date"))
            chunks = self.answerer.store.chunks_of(source)
            found = _dated_sentences(chunks, doc_date, i, title=passages[0].meta.get("title"),
                                     window_days=self.settings.brief_year_window_days)
            if topic:
                found = [e for e in found if support(topic, e.text) > 0 or any(e.passage.chunk.id == p.chunk.id for p in passages)]
            # A document whose own date is unknown may date only side events (its main ones undated):
            # its main events are added, shown as "Date unknown" rather than guessed.
            if not found or doc_date is None:
                for group in ([passages] if topic else _sections(chunks, passages, self.settings.brief_max_sections,
                                                                    self.settings.brief_passages_per_doc)):
                    found.append(self._main_event(group, doc_date, i, config))
            events.extend(e for e in found if e is not None)
        events.sort(key=TimelineEvent.sort_key)
        citations: list[Citation] = []
        by_chunk: dict[str, int] = {}
        lines = []
        for e in events:
            n = by_chunk.get(e.passage.chunk.id)
            if n is None:
                n = by_chunk[e.passage.chunk.id] = len(by_chunk) + 1
                citations.append(Citation.from_passage(n, e.passage))
            lines.append(f"- **{e.date_label}** — {with_marks(e.text.strip(), [n])}")
        title = f"Timeline: {topic}" if topic else "Timeline"
        md = [f"# {title}", ""] + (lines or ["The documents hold no dated events on this topic."])
        md += ["", "## Sources", ""] + _source_lines(citations, self.settings.brief_quote_chars)
        return Briefing(topic, "\n".join(md) + "\n", citations, [l[2:] for l in lines])

    def _main_event(self, passages: list[Passage], doc_date: DocDate | None, order: int,
                    config: RunnableConfig | None = None) -> TimelineEvent | None:
        block = format_passages((n, p.meta, p.chunk.text) for n, p in enumerate(passages, start=1))
        raw = self.event_chain.invoke({"passages": block}, config)
        evidence = {n: evidence_text(n, p) for n, p in enumerate(passages, start=1)}
        # an event that says only its document's title and date ("The Federal Reserve issued a FOMC
        # statement on September 21, 2016") is no event: the line's date and source say it already
        checked = [s for s in verify_answer(raw, evidence, self.settings.support_threshold).sentences
                   if s.citations and not _says_only_header(s, passages[s.citations[0] - 1])]
        if not checked:
            return None
        s = checked[0]
        return TimelineEvent(doc_date, s.text, passages[s.citations[0] - 1], order)


def _dated_sentences(chunks, doc_date: DocDate | None, order: int, title: str | None = None, *,
                     window_days: int) -> list[TimelineEvent]:
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
                if is_dateline(sent) or sent in seen:
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


def _sections(chunks, fallback: list[Passage], max_sections: int, per_section: int) -> list[list[Passage]]:
    """The first ``per_section`` passages of each section of a document (text before its first heading
    counts as one), at most ``max_sections``: an undated document that reports several events under its own
    headings gets one main event per section, not only the first section's."""
    groups: dict[str, list[Passage]] = {}
    for chunk in chunks:
        key = (chunk.metadata.get("heading") or "").split(" — ")[0]
        if key not in groups and len(groups) == max_sections:
            continue
        group = groups.setdefault(key, [])
        if len(group) < per_section:
            group.append(Passage(chunk, 1.0))
    return list(groups.values()) or [fallback]


def _resolve_year(date: DocDate, doc_date: DocDate | None, window_days: int) -> DocDate:
    """Give a yearless date a year only when it falls within ``window_days`` of the document's date:
    in the document's year, or across New Year ("on 19 December" in an article of 12 January 2023
    is 19 December 2022). Anything further away stays year-unknown: it could be any year."""
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
        if abs((candidate - anchor).days) <= window_days:
            return DocDate(date.month, date.day, year)
    return date


def _date_key(meta: dict) -> tuple:
    d = parse_iso(meta.get("date"))
    if d is None:
        return (2, 0, 0, 0)
    return (0 if d.year else 1, d.year or 0, d.month, d.day)


def _bullet_line(line: str) -> str:
    """One bullet per sentence: strip list markers so the verifier sees plain sentences."""
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line.strip())
    return line if re.search(r"[.!?](?:\s*\[\d+\])*$|\]$", line) else line + "."


def _says_only_header(s: CheckedSentence, passage: Passage) -> bool:
    """Does bullet ``s`` say nothing but its document's title and date ("The FOMC issued a statement
    on March 15, 2020" under "Federal Reserve issues FOMC statement", 15 March 2020)? The source list
    says that already; such a bullet takes the place of a fact."""
    header = content_words(f"{passage.meta.get('title', '')} {passage.meta.get('date_label', '')}")
    words = content_words(s.text)
    return bool(words) and words <= header


def _repeats(lead: CheckedSentence, bullet: CheckedSentence) -> bool:
    """Is the lead sentence a copy of a bullet (its content words all the bullet's)? A lead that
    repeats a bullet word for word summarises nothing."""
    words = content_words(lead.text)
    return bool(words) and words <= content_words(bullet.text)


def _lead(text: str) -> str:
    """The reduce step's "Lead:" line ("" when there is none); its "Title:" line is not used."""
    lead = ""
    for line in text.splitlines():
        m = re.match(r"^\s*\**lead\**\s*:\s*(.+)$", line, re.I)
        if m:
            lead = m.group(1).strip()
    return lead


def _share(per_doc: list[list[CheckedSentence]], limit: int,
           kept: Sequence[CheckedSentence] = ()) -> list[tuple[int, CheckedSentence]]:
    """At most ``limit`` (document index, bullet) pairs, taken round-robin over the documents (first
    bullets first), near duplicates of a taken bullet or of one in ``kept`` skipped; returned in
    document (date) order."""
    taken: list[tuple[int, int, CheckedSentence]] = []
    for rank in range(max((len(d) for d in per_doc), default=0)):
        for i, doc in enumerate(per_doc):
            if len(taken) < limit and rank < len(doc) and all(
                    support(doc[rank].text, k.text) < 0.8 for k in [*kept, *(t[2] for t in taken)]):
                taken.append((i, rank, doc[rank]))
    return [(i, s) for i, _, s in sorted(taken, key=lambda x: (x[0], x[1]))]


def topic_quotes(topic: str, numbered: list[tuple[int, Passage]], bullets: list[CheckedSentence],
                 per_passage: int = 2) -> list[CheckedSentence]:
    """A document's own sentences on ``topic`` that none of its ``bullets`` states, quoted and cited,
    the ones holding most of the topic's words first.

    ``numbered``: (passage number, passage) of the document's mapped passages. The candidates are each
    passage's ``per_passage`` sentences bearing most on the topic (rag/select.py); a sentence is left
    out when it holds none of the topic's words or fewer than five content words, is a dateline, or
    shares half its words with a bullet either way. The small model's 2-3 bullets a document left
    facts of the passages out of one-document briefings (seeds dev b02 "nuclear", b03 "19 December"):
    a quote adds them in the document's words, so that nothing is paraphrased into a wrong pairing.
    """
    asked = content_words(topic)
    if not asked:
        return []
    bodies = [(p.chunk.body, p.meta.get("title")) for _, p in numbered]
    scored: list[tuple[float, int, CheckedSentence]] = []
    for (n, p), sel, (body, title) in zip(numbered, select_sentences(topic, bodies, per_passage), bodies):
        sents = body_sentences(body, title) or [body]
        for i in sel.kept:
            sent = strip_citations(sents[i]).strip().strip('“”"').strip()
            words = content_words(sent)
            if len(words) < 5 or not words & asked or is_dateline(sent):
                continue
            if any(support(b.text, sent) >= 0.5 or support(sent, b.text) >= 0.5 for b in bullets):
                continue
            scored.append((len(words & asked) / len(asked), -len(scored), CheckedSentence(f"“{sent}”", [n], 1.0)))
    return [c for *_, c in sorted(scored, key=lambda x: x[:2], reverse=True)]


def _source_lines(citations: list[Citation], quote_chars: int) -> list[str]:
    """The source list: each document once, the passages cited from it under it (number, page, and
    a quote of at most ``quote_chars`` characters, cut at a word)."""
    by_doc: dict[str, list[Citation]] = {}
    for c in citations:
        by_doc.setdefault(c.source, []).append(c)
    lines: list[str] = []
    for source, cited in by_doc.items():
        first = cited[0]
        lines.append(f"- {first.title or source} — {first.date_label or 'no date'} — `{source}`")
        for c in cited:
            text = " ".join(c.text.split())
            quote = text if len(text) <= quote_chars else text[:quote_chars].rsplit(" ", 1)[0] + " …"
            page = f"{c.page_label} — " if c.page_label else ""
            lines.append(f"  - [{c.n}] {page}“{quote}”")
    return lines


__all__ = ["Briefer", "Briefing", "TimelineEvent"]
