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

from rag.answer import Answerer
from rag.brief import Briefer, TimelineEvent, _dated_sentences, _resolve_year
from rag.config import Settings
from rag.dates import DocDate
from rag.retrieve import Passage
from rag.store import StoredChunk
from rag.verify import split_sentences

WINDOW = Settings().brief_year_window_days  # the default: the cases below are dated with it

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
    # the title is the topic as asked, not the model's "Title:" line (no check verifies a title)
    assert result.markdown.startswith("# Briefing: the whole collection\n") and "Test briefing" not in result.markdown
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
    # each document once, then a line per passage cited from it (issue 17)
    lines = [l for l in sources.strip().splitlines() if l.strip()]
    documents = [l for l in lines if l.startswith("- ")]
    assert len(documents) == len({c.source for c in result.citations}) < len(result.citations)
    passage_lines = [l for l in lines if l.startswith("  - [")]
    assert sorted(int(re.match(r"  - \[(\d+)\]", l).group(1)) for l in passage_lines) == first_use
    for c in result.citations:
        doc_line = next(i for i, l in enumerate(lines) if l.startswith("- ") and l.endswith(f"`{c.source}`"))
        mine = next(i for i, l in enumerate(lines) if l.startswith(f"  - [{c.n}] "))
        assert doc_line < mine and not any(l.startswith("- ") for l in lines[doc_line + 1 : mine])


def test_topic_briefing_keeps_only_documents_on_the_topic(seed_store):
    briefer, llm = _briefer(seed_store)
    result = briefer.briefing("Lavrov's meeting with Maxim Ryzhenkov in Brest")
    # only the Brest article names Ryzhenkov and Brest; the other four are about other visits
    assert {c.source for c in result.citations} == {"000_e3a7af6ccd77722d.txt"}
    assert llm.calls.count("map") == 1
    assert result.to_json()["citations"][0]["n"] == 1


def test_every_document_keeps_a_share_of_the_bullets(seed_store):
    llm = PromptEchoModel()
    settings = seed_store.settings.with_(brief_max_bullets=len(seed_store.sources()))  # fewer than the documents' bullets
    briefer = Briefer(Answerer(seed_store, llm, settings))
    result = briefer.briefing(None)
    assert len(result.bullets) == len(seed_store.sources())
    cited = {c.source for c in result.citations}
    assert cited == {i.source for i in seed_store.sources()}  # one bullet from each, not five from the first


def test_documents_are_chosen_by_the_topic_words_they_hold(seed_store):
    briefer, _ = _briefer(seed_store)
    topic = "Nuclear weapons and security guarantees in Russia-Belarus relations"
    scores = briefer.answerer.retriever.lexical_scores(topic)
    chosen = {source for source, _ in briefer.gather(topic)}
    # every seed says "Russia" and "Belarus"; only two discuss nuclear weapons and security guarantees
    assert chosen == {"000_e3a7af6ccd77722d.txt", "004_d4300b7bd3a6ac4d.txt"}
    assert all(scores[s] >= 0.5 * max(scores.values()) for s in chosen)
    assert len(scores) == len(seed_store.sources())  # the others match too, far more weakly
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
    assert _resolve_year(DocDate(11, 26), doc, WINDOW) == DocDate(11, 26, 2020)
    assert _resolve_year(DocDate(3, 1), doc, WINDOW).year is None  # months away: could be another year
    assert _resolve_year(DocDate(11, 26), None, WINDOW).year is None  # never guessed without a dated document
    # across New Year: "latest visit ... on 19 December" in an article of 12 January 2023
    assert _resolve_year(DocDate(12, 19), DocDate(1, 12, 2023), WINDOW) == DocDate(12, 19, 2022)
    assert _resolve_year(DocDate(1, 5), DocDate(12, 20, 2022), WINDOW) == DocDate(1, 5, 2023)
    assert _resolve_year(DocDate(2, 29), DocDate(3, 1, 2023), WINDOW).year is None  # no 29 February near 2023


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
    events = _dated_sentences([_chunk(body)], DocDate(11, 26, 2020), 0, window_days=WINDOW)
    assert [e.date_label for e in events] == ["25 November 2020", "22 November 2020"]
    assert events[0].text.endswith("counterpart, Vladimir Makei.")  # same person goes on: kept
    assert "weather" not in events[0].text  # only the next sentence, never more
    assert events[1].text.endswith("in Brest.")  # "The meeting ..." names nobody from it: not joined


def test_a_dateline_on_its_own_line_does_not_date_the_next_sentence():
    body = "Thursday, 12 January 2023, 20:16\n\nSergei Lavrov will come to Minsk on 19 January."
    events = _dated_sentences([_chunk(body)], DocDate(1, 12, 2023), 0, window_days=WINDOW)
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


def test_sources_list_each_document_once_with_its_cited_passages_and_pages():
    from rag.answer import Citation
    from rag.brief import _source_lines

    cites = [Citation(n=1, source="a.txt", title="A", date=None, chunk_id="1", text="First   passage.", date_label="3 May 2021"),
             Citation(n=2, source="r.pdf", title="Report", date=None, chunk_id="2", text="Water use fell.", page=3),
             Citation(n=3, source="a.txt", title="A", date=None, chunk_id="3", text="x " * 200, date_label="3 May 2021"),
             Citation(n=4, source="r.pdf", title="Report", date=None, chunk_id="4", text="Costs rose.", page=4, page_end=5)]
    lines = _source_lines(cites, Settings().brief_quote_chars)
    assert lines[0] == "- A — 3 May 2021 — `a.txt`"
    assert lines[1] == "  - [1] “First passage.”"
    assert lines[2].startswith("  - [3] “x x") and lines[2].endswith(" …”") and len(lines[2]) < 180
    assert lines[3:] == ["- Report — no date — `r.pdf`", "  - [2] p. 3 — “Water use fell.”", "  - [4] pp. 4–5 — “Costs rose.”"]


def test_room_left_by_the_bullets_is_filled_with_quoted_sentences_on_the_topic(seed_store):
    topic = "Lavrov's meeting with Maxim Ryzhenkov in Brest"
    plain = Briefer(Answerer(seed_store, PromptEchoModel(), seed_store.settings.with_(brief_fill_quotes=False)))
    without = plain.briefing(topic)
    briefer, llm = _briefer(seed_store)
    result = briefer.briefing(topic)
    assert llm.calls == ["map", "reduce"]  # quotes cost no model call
    quotes = [b for b in result.bullets if b.startswith("“")]
    assert quotes and len(result.bullets) <= briefer.settings.brief_max_bullets
    # the model's bullets come first and are unchanged; the quotes only add
    assert [b for b in result.bullets if not b.startswith("“")] == without.bullets
    for q in quotes:
        text = re.sub(r"\s*\[\d+\]\.?$", "", q).strip("“”")
        (n,) = _markers(q)
        assert text in " ".join(result.citations[n - 1].text.split())  # verbatim from the passage it cites
        assert any(w.lower() in text.lower() for w in ("Lavrov", "Ryzhenkov", "Brest", "meeting"))
    # no quote repeats a bullet
    assert not any(re.sub(r"\s*\[\d+\]\.?$", "", q).strip("“”") in b for q in quotes for b in without.bullets)


def test_a_bullet_that_only_restates_the_document_header_is_no_fact():
    from rag.brief import _says_only_header
    from rag.verify import CheckedSentence
    p = Passage(StoredChunk("c", "x", {"title": "Federal Reserve issues FOMC statement", "date_label": "15 March 2020"}), 1.0)
    assert _says_only_header(CheckedSentence("The FOMC issued a statement on March 15, 2020.", [1], 1.0), p)
    assert not _says_only_header(CheckedSentence("The FOMC lowered the target range to 0 to 1/4 percent.", [1], 1.0), p)


def test_a_lead_that_copies_a_bullet_is_left_out(seed_store):
    from rag.brief import _repeats
    from rag.verify import CheckedSentence
    bullet = CheckedSentence("Lavrov met Ryzhenkov in Brest on 22 November.", [1], 1.0)
    assert _repeats(CheckedSentence("Lavrov met Ryzhenkov in Brest.", [1], 1.0), bullet)
    assert not _repeats(CheckedSentence("Lavrov visited Belarus twice, meeting Ryzhenkov and Makei.", [1, 2], 1.0), bullet)
    # the fake model's lead is its first bullet word for word: the briefing shows no lead then
    briefer, _ = _briefer(seed_store)
    result = briefer.briefing(None)
    body = result.markdown.split("\n## Sources")[0].splitlines()
    assert body[1] == "" and body[2].startswith("- ")


def test_a_main_event_that_only_restates_the_document_header_is_no_event(seed_store):
    from fakes import QueuedChatModel

    source = "001_f63a187ba6a0d519.txt"
    passages = [Passage(c, 1.0) for c in seed_store.chunks_of(source)[:2]]
    title, date = passages[0].meta["title"], passages[0].meta["date_label"]
    llm = QueuedChatModel(answers=[f"{title} on {date} [1].",
                                   "Sergey Lavrov paid a working visit to Minsk [1]."])
    briefer = Briefer(Answerer(seed_store, llm, seed_store.settings))
    assert briefer._main_event(passages, None, 1) is None  # the title and date are the line's own
    event = briefer._main_event(passages, None, 1)
    assert event is not None and "working visit to Minsk" in event.text


def test_a_model_caught_in_a_loop_is_verified_on_what_it_said_once():
    from rag.verify import collapse_repeats, verify_answer

    loop = ("Lukashenko met Vladimir Putin at the invitation of his counterpart, "
            + "Vladimir Putin, at the invitation of his counterpart, " * 20 + "[1].")
    assert collapse_repeats(loop) == "Lukashenko met Vladimir Putin at the invitation of his counterpart, Vladimir Putin [1]."
    evidence = {1: '[1] date unknown — "Overview" (004.txt) Lukashenko met Vladimir Putin at the invitation of his counterpart.'}
    kept = verify_answer(loop, evidence, 0.5).sentences
    assert len(kept) == 1 and kept[0].text.count("invitation") == 1
    # text without a loop is untouched, lists and ranges included
    for text in ("Lavrov met Makei [1]. Lavrov met Makei again in 2022 [2].", "- George [1]\n- Mester [1]\n- Rosengren [1]",
                 "The range rose to 1/4 to 1/2 percent, then to 1/2 to 3/4 percent [1]."):
        assert collapse_repeats(text) == text
