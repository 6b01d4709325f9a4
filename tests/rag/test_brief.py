"""Briefings and timelines: map/reduce wiring, citation check and renumbering, timeline order.

The model is a fake that answers from the prompt it is sent (so that its statements are really
supported by the passages shown), plus one invented statement per document that the citation
check must drop. The store is the real seed store.
"""
from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from ingest.metadata import DocDate
from rag.answer import Answerer
import rag.brief as brief
from rag.brief import Briefer, TimelineEvent, _dated_sentences, _resolve_year
from rag.retrieve import Passage
from rag.store import StoredChunk
from rag.verify import split_sentences

INVENTED = "The ministers agreed to build a bridge to the Moon"
_PASSAGE = re.compile(r"^\[(\d+)\] [^\n]*\n(?:Section: [^\n]*\n)?(.*?)(?=\n\n\[\d+\] |\Z)", re.S | re.M)


def _first_sentence(body: str) -> str:
    for s in split_sentences(body):
        if len(s.split()) >= 6 and "[" not in s:
            return s.rstrip(".")
    return body.split("\n")[0].rstrip(".")


class PromptEchoModel(BaseChatModel):
    """Map: one real sentence from each of the first two passages, cited, plus an invented one.
    Reduce: a title and a lead made of the first bullet. Timeline event: passage 1's first sentence."""

    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "prompt-echo-fake"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kw: Any) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        if "notes for an analyst's briefing" in prompt:
            self.calls.append("map")
            passages = _PASSAGE.findall(prompt)[:2]
            lines = [f"- {_first_sentence(body)} [{n}]." for n, body in passages]
            lines.append(f"- {INVENTED} [{passages[0][0]}].")
            text = "\n".join(lines)
        elif "opening of an analyst's briefing" in prompt:
            self.calls.append("reduce")
            first = re.search(r"^- (.*)$", prompt, re.M).group(1)
            text = f"Title: Test briefing\nLead: {first}"
        else:
            self.calls.append("event")
            n, body = _PASSAGE.findall(prompt)[0]
            text = f"{_first_sentence(body)} [{n}]."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def _briefer(seed_store) -> tuple[Briefer, PromptEchoModel]:
    llm = PromptEchoModel()
    return Briefer(Answerer(seed_store, llm, seed_store.settings)), llm


def _markers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def test_whole_collection_briefing_maps_each_document_then_reduces(seed_store):
    briefer, llm = _briefer(seed_store)
    progress: list[str] = []
    result = briefer.briefing(None, progress=progress.append)
    n_docs = len(seed_store.sources())
    assert llm.calls == ["map"] * n_docs + ["reduce"]
    assert sum("summarising" in m for m in progress) == n_docs
    assert result.markdown.startswith("# Test briefing\n")
    # every document's facts reach the briefing: map covers the collection, not the top chunks
    assert {c.source for c in result.citations} == {s.source for s in seed_store.sources()}


def test_unsupported_statements_are_dropped_and_every_bullet_is_cited(seed_store):
    briefer, _ = _briefer(seed_store)
    result = briefer.briefing(None)
    assert INVENTED not in result.markdown
    assert result.bullets
    for bullet in result.bullets:
        assert _markers(bullet), bullet
        cited = [result.citations[n - 1] for n in _markers(bullet)]
        # the bullet's words come from a passage it cites
        words = set(re.findall(r"[A-Za-z]{5,}", re.sub(r"\[\d+\]", "", bullet)))
        assert any(len(words & set(re.findall(r"[A-Za-z]{5,}", c.text))) >= len(words) * 0.8 for c in cited), bullet


def test_citations_are_renumbered_to_the_final_source_list(seed_store):
    briefer, _ = _briefer(seed_store)
    result = briefer.briefing(None)
    body, sources = result.markdown.split("## Sources")
    used = _markers(body)
    first_use = list(dict.fromkeys(used))
    assert first_use == list(range(1, len(result.citations) + 1))  # 1, 2, 3 ... in order of first use
    assert [c.n for c in result.citations] == first_use
    # (changed with issue 17: one entry per document, its cited passages under it, not one line per passage)
    passage_lines = re.findall(r"^  - \[(\d+)\] ", sources, re.M)
    assert sorted(int(n) for n in passage_lines) == [c.n for c in result.citations]  # each number listed once


def test_topic_briefing_keeps_only_documents_on_the_topic(seed_store):
    briefer, llm = _briefer(seed_store)
    result = briefer.briefing("Lavrov's meeting with Maxim Ryzhenkov in Brest")
    # only the Brest article names Ryzhenkov and Brest; the other four are about other visits
    assert {c.source for c in result.citations} == {"000_e3a7af6ccd77722d.txt"}
    assert llm.calls.count("map") == 1
    assert result.to_json()["citations"][0]["n"] == 1


def test_every_document_keeps_a_share_of_the_bullets(seed_store):
    # fewer bullets than the documents give (the limit is a setting now, brief_max_bullets)
    settings = seed_store.settings.with_(brief_max_bullets=len(seed_store.sources()))
    briefer = Briefer(Answerer(seed_store, PromptEchoModel(), settings))
    result = briefer.briefing(None)
    assert len(result.bullets) == len(seed_store.sources())
    cited = {c.source for c in result.citations}
    assert cited == {i.source for i in seed_store.sources()}  # one bullet from each, not five from the first


def test_documents_are_chosen_by_the_topic_words_they_hold(seed_store):
    # (changed with issue 17: passages, not documents, are chosen; the old rule kept exactly 000 and 004)
    briefer, _ = _briefer(seed_store)
    topic = "Nuclear weapons and security guarantees in Russia-Belarus relations"
    docs = briefer.gather(topic)
    chosen = {source for source, _ in docs}
    # every seed says "Russia" and "Belarus", which weigh nothing; two discuss nuclear weapons, and the
    # 2020 press release discusses security ("strategic stability and pan-European security")
    assert {"000_e3a7af6ccd77722d.txt", "004_d4300b7bd3a6ac4d.txt"} <= chosen
    assert "002_e0b109478491a41f.txt" not in chosen and "003_303e7899af01f908.txt" not in chosen
    for source, passages in docs:
        assert 1 <= len(passages) <= briefer.settings.brief_passages_per_doc
        assert all(re.search(r"nuclear|weapon|security|guarantee", p.chunk.text, re.I) for p in passages), source
    assert sum(len(p) for _, p in docs) <= briefer.settings.brief_max_passages
    assert len(briefer.gather(None)) == len(seed_store.sources())  # --all keeps every document


def test_off_topic_briefing_says_the_documents_are_silent(seed_store):
    briefer, llm = _briefer(seed_store)
    result = briefer.briefing("Photosynthesis in deep-sea coral reefs")
    assert "do not say" in result.markdown and not result.citations
    assert llm.calls == []


def _event(date: DocDate | None, order: int = 0) -> TimelineEvent:
    return TimelineEvent(date, "x", Passage(StoredChunk("id", "x", {}), 1.0), order)


def test_timeline_order_known_years_first_then_year_unknown_then_undated():
    events = [_event(None, 0), _event(DocDate(1, 19)), _event(DocDate(11, 26, 2020)), _event(DocDate(6, 30, 2022)),
              _event(DocDate(11, 22)), _event(DocDate(11, 25, 2020))]
    ordered = [e.date_label for e in sorted(events, key=TimelineEvent.sort_key)]
    assert ordered == ["25 November 2020", "26 November 2020", "30 June 2022",
                       "19 January (year unknown)", "22 November (year unknown)", "Date unknown"]


def test_a_yearless_date_takes_the_document_year_only_when_close():
    doc = DocDate(11, 20, 2020)
    assert _resolve_year(DocDate(11, 26), doc) == DocDate(11, 26, 2020)
    assert _resolve_year(DocDate(3, 1), doc).year is None  # months away: could be another year
    assert _resolve_year(DocDate(11, 26), None).year is None  # never guessed without a dated document
    # across New Year: "latest visit ... on 19 December" in an article of 12 January 2023
    assert _resolve_year(DocDate(12, 19), DocDate(1, 12, 2023)) == DocDate(12, 19, 2022)
    assert _resolve_year(DocDate(1, 5), DocDate(12, 20, 2022)) == DocDate(1, 5, 2023)
    assert _resolve_year(DocDate(2, 29), DocDate(3, 1, 2023)).year is None  # no 29 February near 2023


def test_seed_timeline_is_chronological_and_cited(seed_store):
    briefer, _ = _briefer(seed_store)
    result = briefer.timeline(None)
    lines = [l for l in result.markdown.split("## Sources")[0].splitlines() if l.startswith("- **")]
    assert len(lines) >= len(seed_store.sources())
    keys = []
    for line in lines:
        label = re.match(r"- \*\*(.+?)\*\*", line).group(1)
        assert _markers(line), line
        m = re.match(r"(\d+) (\w+)(?: (\d{4}))?", label)
        if m is None:
            keys.append((2, 0, 0, 0))
            continue
        month = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December"].index(m.group(2)) + 1
        keys.append((0, int(m.group(3)), month, int(m.group(1))) if m.group(3) else (1, 0, month, int(m.group(1))))
    assert keys == sorted(keys)
    assert any(k[0] == 0 for k in keys) and any(k[0] == 1 for k in keys)  # the seeds have both kinds
    assert max(_markers(result.markdown.split("## Sources")[0])) == len(result.citations)


def _chunk(body: str, heading: str = "", index: int = 0) -> StoredChunk:
    return StoredChunk(f"c{index}", body, {"chunk_index": index, "heading": heading})


def test_a_dated_sentence_keeps_the_next_one_when_it_goes_on_about_the_same_person():
    body = ("On November 25-26, Foreign Minister Sergey Lavrov paid a working visit to Minsk. "
            "Mr Lavrov held talks with his Belarusian counterpart, Vladimir Makei. The weather was cold.\n\n"
            "Russian Foreign Minister Sergey Lavrov met Maxim Ryzhenkov on Nov. 22 in Brest. "
            "The meeting is occurring at a point when the press is emphasizing other matters.")
    events = _dated_sentences([_chunk(body)], DocDate(11, 26, 2020), 0)
    assert [e.date_label for e in events] == ["25 November 2020", "22 November 2020"]
    assert events[0].text.endswith("counterpart, Vladimir Makei.")  # same person goes on: kept
    assert "weather" not in events[0].text  # only the next sentence, never more
    assert events[1].text.endswith("in Brest.")  # "The meeting ..." names nobody from it: not joined


def test_a_dateline_on_its_own_line_does_not_date_the_next_sentence():
    body = "Thursday, 12 January 2023, 20:16\n\nSergei Lavrov will come to Minsk on 19 January."
    events = _dated_sentences([_chunk(body)], DocDate(1, 12, 2023), 0)
    assert [(e.date_label, e.text) for e in events] == [("19 January 2023", "Sergei Lavrov will come to Minsk on 19 January.")]


def test_an_undated_document_gets_one_main_event_per_section(seed_store):
    briefer, llm = _briefer(seed_store)
    undated = [i for i in seed_store.sources() if not (i.date or "")]
    assert [i.source for i in undated] == ["004_d4300b7bd3a6ac4d.txt"]  # the seeds' one undated document
    chunks = seed_store.get(where={"source": undated[0].source})
    sections = {c.metadata["heading"].split(" — ")[0] for c in chunks}
    result = briefer.timeline(None)
    assert llm.calls.count("event") == len(sections) >= 3
    cited = {c.heading.split(" — ")[0] for c in result.citations if c.source == undated[0].source and c.heading}
    assert cited == sections
    assert result.markdown.count("**Date unknown**") == len(sections)


def test_source_lines_show_the_page_of_a_pdf_passage():
    # (changed with issue 17: one entry per document, the page on each passage under it)
    from rag.answer import Citation

    pdf = Citation(n=2, source="report.pdf", title="Report", date=None, chunk_id="x", text="Water use fell.", page=3)
    pdf2 = Citation(n=3, source="report.pdf", title="Report", date=None, chunk_id="z", text="Costs rose.", page=4, page_end=5)
    txt = Citation(n=1, source="a.txt", title="A", date=None, chunk_id="y", text="t", date_label="3 March 2021")
    assert brief._source_lines([txt, pdf, pdf2], {}, 200) == [
        "- A — 3 March 2021 — `a.txt`", "  - [1] “t”",
        "- Report — no date — `report.pdf`", "  - [2] p. 3 — “Water use fell.”", "  - [3] pp. 4–5 — “Costs rose.”"]


# --- issue 17: selection by passage, duplicates, chronologies, leads, sources


class RuleModel(BaseChatModel):
    """Map: for each ``(text in the passages, bullet)`` rule whose text is in a passage of the prompt, the
    bullet citing that passage (``{n}``). Reduce: ``lead``. Records the prompts."""

    rules: list[tuple[str, str]] = Field(default_factory=list)
    lead: str = "Title: T\nLead: "
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "rule-fake"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kw: Any) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        if "notes for an analyst's briefing" in prompt:
            self.calls.append("map")
            lines = [bullet.format(n=n) for n, body in _PASSAGE.findall(prompt)
                     for text, bullet in self.rules if text in body]
            text = "\n".join(f"- {line}" for line in lines) or "- Nothing."
        else:
            self.calls.append("reduce")
            text = self.lead
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def test_a_document_the_old_rule_left_out_is_covered(seed_store):
    briefer, _ = _briefer(seed_store)
    topic = "Color revolutions and Western interference"
    # the old rule mapped a document only if its best BM25 score reached half the best document's
    lexical = briefer.answerer.retriever.lexical_scores(topic)
    press_release = "001_f63a187ba6a0d519.txt"
    assert lexical[press_release] < 0.5 * max(lexical.values())
    docs = dict(briefer.gather(topic))
    # ... yet it says "outside interference in domestic political processes in Belarus is unacceptable"
    assert press_release in docs
    assert any("interference" in p.chunk.text for p in docs[press_release])
    assert {"000_e3a7af6ccd77722d.txt", "003_303e7899af01f908.txt"} <= set(docs)  # the two the old rule kept


def test_topic_clauses_are_searched_on_their_own():
    assert brief.subqueries("Nuclear weapons and security guarantees in Russia-Belarus relations", 3) == [
        "Nuclear weapons", "security guarantees in Russia-Belarus relations"]
    assert brief.subqueries("Meetings between Lukashenko and Putin", 3) == []  # names joined by "and"
    assert brief.subqueries("Sanctions and countermeasures against the West", 3) == []  # a lone word stays
    assert brief.subqueries("The FOMC's March 15, 2020 response", 3) == []  # a date's comma
    assert brief.subqueries("Nuclear weapons and security guarantees", 0) == []


def test_the_same_claim_from_two_documents_is_one_bullet_citing_both(seed_store):
    llm = RuleModel(rules=[
        ("received by President of the Republic of Belarus Alexander Lukashenko",
         "Mr Lavrov was received by President Alexander Lukashenko on 26 November 2020 [{n}]."),
        ("On Thursday, 26 November, Alexander Lukashenko met with Russian Foreign Minister Sergei Lavrov",
         "On 26 November, Alexander Lukashenko met with Russian Foreign Minister Sergei Lavrov [{n}]."),
        ("held talks with his Belarusian counterpart, Vladimir Makei",
         "Lavrov held talks with his Belarusian counterpart, Vladimir Makei [{n}]."),
    ])
    briefer = Briefer(Answerer(seed_store, llm, seed_store.settings))
    result = briefer.briefing("Lavrov's November 2020 visit to Minsk")
    meetings = [b for b in result.bullets if "Lukashenko" in b]
    assert len(meetings) == 1, result.bullets  # two documents, one claim
    cited = {result.citations[n - 1].source for n in _markers(meetings[0])}
    assert cited == {"001_f63a187ba6a0d519.txt", "003_303e7899af01f908.txt"}  # both citations kept
    assert any("Makei" in b for b in result.bullets)  # a different claim is not merged


def test_duplicates_need_the_same_names_and_times():
    same = brief.same_claim
    assert same("Lavrov met Makei in Minsk.", "Sergey Lavrov met Vladimir Makei in Minsk on 26 November.", 0.8)
    assert not same("Lavrov met with Lukashenko on 26 November in Sochi.", "Lavrov met Makei on 26 November.", 0.8)
    assert not same("The Committee raised the rate in March 2022.", "The Committee raised the rate in July 2022.", 0.8)


def _dated_bullets_model() -> BaseChatModel:
    """Map: every dated sentence of every passage shown, cited, in reverse order (so that passage order
    is not date order)."""
    from ingest.metadata import find_dates

    class DatedModel(RuleModel):
        def _generate(self, messages, stop=None, run_manager=None, **kw):
            prompt = "\n".join(str(m.content) for m in messages)
            if "notes for an analyst's briefing" not in prompt:
                return super()._generate(messages, stop, run_manager, **kw)
            lines = [f"- {s.rstrip('.')} [{n}]." for n, body in _PASSAGE.findall(prompt)
                     for s in split_sentences(body) if find_dates(s) and "[" not in s and len(s) < 300]
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="\n".join(reversed(lines))))])

    return DatedModel()


def _label_key(label: str) -> tuple:
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    m = re.match(r"(\d+) (\w+)(?: (\d{4}))?", label)
    if m is None:
        return (2, 0, 0, 0)
    month = months.index(m.group(2)) + 1
    return (0, int(m.group(3)), month, int(m.group(1))) if m.group(3) else (1, 0, month, int(m.group(1)))


def test_a_chronology_briefing_is_in_date_order_with_year_unknown_kept(seed_store):
    briefer = Briefer(Answerer(seed_store, _dated_bullets_model(), seed_store.settings))
    assert brief.is_chronology("Chronology of Lavrov's visits to Minsk") and not brief.is_chronology("Lavrov's visits")
    result = briefer.briefing("Chronology of Lavrov's visits to Minsk")
    labels = [re.match(r"\*\*(.+?)\*\* — ", b).group(1) for b in result.bullets]
    assert len(labels) >= 3
    assert [_label_key(l) for l in labels] == sorted(_label_key(l) for l in labels)
    assert any(l.endswith("(year unknown)") for l in labels)  # a year the text does not give is not guessed
    assert any(l.endswith("2020") for l in labels) and any(l.endswith("2022") or l.endswith("2023") for l in labels)
    # one line per event: no two lines of one date naming the same people
    keys = [(l, brief.fact_keys(b)[0]) for l, b in zip(labels, result.bullets)]
    assert len(keys) == len(set(keys))


def test_timeline_lines_of_one_date_naming_the_same_people_are_one_event():
    def event(text: str, chunk_id: str, date=DocDate(11, 26, 2020)) -> TimelineEvent:
        return TimelineEvent(date, text, Passage(StoredChunk(chunk_id, text, {}), 1.0))

    events = [event("Lukashenko met Lavrov on 26 November.", "a"),
              event("On 26 November, Alexander Lukashenko met with Russian Foreign Minister Sergei Lavrov in Minsk.", "b"),
              event("On 26 November Lavrov also met Makei.", "c"),
              event("Lukashenko met Lavrov on 26 November.", "d", DocDate(11, 26))]  # another year: kept apart
    merged = brief.merge_events(events, 0.8)
    assert [e.passage.chunk.id for e in merged] == ["b", "c", "d"]
    assert [p.chunk.id for p in merged[0].also] == ["a"]  # the fuller line kept, both passages cited


def test_seed_timeline_tells_each_event_once(seed_store):
    briefer, _ = _briefer(seed_store)
    result = briefer.timeline(None)
    lines = [l for l in result.markdown.split("## Sources")[0].splitlines() if l.startswith("- **")]
    keys = [(re.match(r"- \*\*(.+?)\*\*", l).group(1), brief.fact_keys(l.split("** — ", 1)[1])[0]) for l in lines]
    dated = [k for k in keys if k[0] != "Date unknown" and k[1]]
    for i, (label, names) in enumerate(dated):
        assert not any(label == l2 and (names <= n2 or n2 <= names) for l2, n2 in dated[i + 1:]), (label, names)


def test_stray_citation_fragments_are_cleaned():
    clean = brief.clean_citation_marks
    assert clean("Lavrov visited Minsk [ [1].") == "Lavrov visited Minsk [1]."
    assert clean("He met Makei [1]]. He left [[2]].") == "He met Makei [1]. He left [2]."
    assert clean("They signed a plan [1, [2].") == "They signed a plan [1][2]."
    assert clean("Talks were held [1") == "Talks were held [1]"
    assert clean("A summary [ ].") == "A summary."
    assert clean("See [Passage 3] and [1-2].") == "See [3] and [1][2]."
    assert clean("[sic] is kept [2].") == "[sic] is kept [2]."
    assert brief.clean_text("Minsk [.") == "Minsk."


def test_a_stray_fragment_in_the_lead_is_removed(seed_store):
    topic = "Lavrov's meeting with Maxim Ryzhenkov in Brest"
    llm = RuleModel(rules=[("met with Belarusian Foreign Minister Maxim Ryzhenkov",
                            "Lavrov met Maxim Ryzhenkov in Brest [{n}].")],
                    lead="Title: Lavrov in Brest\nLead: The Brest Fortress is the scene of major battles of 1941 [ [2].")
    briefer = Briefer(Answerer(seed_store, llm, seed_store.settings))
    docs = briefer.gather(topic)
    assert [s for s, _ in docs] == ["000_e3a7af6ccd77722d.txt"]
    assert "Brest Fortress" in docs[0][1][1].chunk.text  # passage [2]
    result = briefer.briefing(topic)
    assert result.lead == "The Brest Fortress is the scene of major battles of 1941 [1]."
    assert not re.search(r"\[\s*\[|\[\s*[.\]]|\[\s*$", result.markdown, re.M), result.markdown
    assert result.markdown.startswith("# Lavrov in Brest\n\nThe Brest Fortress is the scene of major battles of 1941 [1].\n")


def test_a_lead_that_copies_a_bullet_is_dropped(seed_store):
    briefer, llm = _briefer(seed_store)  # its lead is the first bullet, word for word
    result = briefer.briefing(None)
    assert llm.calls[-1] == "reduce" and result.lead == ""
    first = result.bullets[0]
    assert result.markdown.split("## Sources")[0].count(re.sub(r" \[\d+\]\.$", "", first)) == 1
    assert brief.copies_a_bullet("Lavrov met Makei in Minsk.", ["On 26 November Lavrov met Makei in Minsk."], 0.8)
    assert not brief.copies_a_bullet("Lavrov visited Minsk twice, meeting Makei and Lukashenko.",
                                      ["Lavrov met Makei.", "Lavrov was received by Lukashenko."], 0.8)


def test_each_source_is_listed_once_with_its_cited_passages_under_it(seed_store):
    briefer, _ = _briefer(seed_store)
    result = briefer.briefing(None)
    sources = result.markdown.split("## Sources", 1)[1]
    entries = re.findall(r"^- (.+) — `([^`]+)`$", sources, re.M)
    assert sorted(s for _, s in entries) == sorted({c.source for c in result.citations})  # each once
    by_entry: dict[str, list[int]] = {}
    current = None
    for line in sources.splitlines():
        m = re.match(r"^- .+ — `([^`]+)`$", line)
        if m:
            current = m.group(1)
        elif line.startswith("  - ["):
            by_entry[current].append(int(re.match(r"  - \[(\d+)\] “.+”$", line).group(1))) if current in by_entry \
                else by_entry.setdefault(current, [int(re.match(r"  - \[(\d+)\] “.+”$", line).group(1))])
    for source, numbers in by_entry.items():
        assert all(result.citations[n - 1].source == source for n in numbers)  # numbering = Briefing.citations
    assert sorted(n for ns in by_entry.values() for n in ns) == [c.n for c in result.citations]
    assert any(len(ns) >= 2 for ns in by_entry.values())  # several passages under one document


def test_bullets_and_lead_are_verified_with_the_topic_as_question(seed_store, monkeypatch):
    calls: list[dict] = []
    real = brief.verify_answer

    def spy(text, evidence, threshold, question="", max_cited=3, window=3):
        calls.append({"question": question, "max_cited": max_cited, "window": window})
        return real(text, evidence, threshold, question=question, max_cited=max_cited, window=window)

    monkeypatch.setattr(brief, "verify_answer", spy)
    settings = seed_store.settings.with_(max_cited=2, support_window=4)
    llm = RuleModel(rules=[("met with Belarusian Foreign Minister Maxim Ryzhenkov", "Lavrov met Maxim Ryzhenkov in Brest [{n}].")],
                    lead="Title: T\nLead: The Brest Fortress is the scene of major battles of 1941 [2].")
    topic = "Lavrov's meeting with Maxim Ryzhenkov in Brest"
    Briefer(Answerer(seed_store, llm, settings)).briefing(topic)
    assert len(calls) == llm.calls.count("map") + 1  # every map answer, then the lead
    assert all(c == {"question": topic, "max_cited": 2, "window": 4} for c in calls)


def test_briefing_settings_are_validated():
    import pytest

    from rag.config import Settings

    s = Settings()
    assert (s.brief_max_bullets, s.brief_passages_per_doc, s.brief_max_passages) == (10, 3, 12)
    for bad in ({"brief_max_passages": 0}, {"brief_min_topic_share": 1.5}, {"brief_mmr_lambda": -0.1},
                {"brief_dedup_overlap": 2.0}, {"brief_subqueries": -1}, {"brief_year_window_days": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            s.with_(**bad)
