"""Answer: the cited question-answering chain (retrieve → prompt → generate → verify → cite).

The chain is LangChain runnables (prompt | chat model | parser), so any chat model backend
plugs in. Refusal happens twice: before generation when retrieval finds nothing close enough
(``min_score``, as in txtai), and after it when the model says the documents do not say.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Protocol, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableConfig

from rag.config import Settings
from rag.llm import make_llm
from rag.prompts import format_passages, load_prompt, passage_header
from rag.retrieve import Filters, Passage, Retrieval, Retriever
from rag.select import select_sentences
from rag.store import Store
from rag.verify import (CheckedSentence, Verification, body_sentences, content_words, premise_conflict, strip_citations, support,
                        verify_answer)

REFUSAL_TEXT = "The documents do not say."
# words that name the slot a question asks for, not something the answer sentence must repeat
_SLOT_WORDS = re.compile(r"\b(?:date|day|year|month|time|place|city|name|number)s?\b", re.IGNORECASE)


@dataclass
class Citation:
    n: int
    source: str
    title: str | None
    date: str | None
    chunk_id: str
    text: str
    date_label: str | None = None
    heading: str | None = None
    start: int | None = None
    end: int | None = None
    page: int | None = None  # PDF: the (first) page of the passage, 1-based; None for other formats
    page_end: int | None = None  # PDF: the last page when the passage runs onto later pages

    @classmethod
    def from_passage(cls, n: int, p: Passage) -> "Citation":
        m = p.meta
        page = _page_number(m.get("page"))
        page_end = _page_number(m.get("page_end")) if page is not None else None
        return cls(n=n, source=m.get("source", "?"), title=m.get("title") or None, date=m.get("date") or None,
                   chunk_id=p.chunk.id, text=p.chunk.body, date_label=m.get("date_label") or None,
                   heading=m.get("heading") or None, start=m.get("start"), end=m.get("end"),
                   page=page, page_end=page_end if page_end is not None and page_end > page else None)

    @property
    def page_label(self) -> str | None:
        """"p. 3", "pp. 3–4", or None when the passage has no page."""
        return page_label(self.page, self.page_end)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n", "source", "title", "date", "chunk_id", "text", "page", "page_end")}


def _page_number(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def page_label(page: int | None, page_end: int | None = None) -> str | None:
    """"p. 3" for one page, "pp. 3–4" for a span, None without a page."""
    if page is None:
        return None
    return f"pp. {page}–{page_end}" if page_end is not None and page_end > page else f"p. {page}"


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    timings: dict[str, float]
    standalone_question: str | None = None
    raw: str = ""
    dropped: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "refused": self.refused,
                "citations": [c.to_json() for c in self.citations],
                "timings": {k: round(v, 1) for k, v in self.timings.items()}}


@dataclass
class Retrieved:
    """The first event of :meth:`Answerer.stream`: what retrieval found, before the model writes.

    Retrieval takes tens of milliseconds and the model seconds, so a front end can show these
    passages at once, as provisional sources (the answer's citations are a subset of them, or
    nothing when it refuses).
    """

    question: str
    standalone_question: str
    passages: list[Passage]
    retrieve_ms: float


def _name_span(question: str, name: str) -> str:
    """The whole name in ``question`` that ``name`` is part of ("Makei" → "Vladimir Makei")."""
    tokens = question.split()
    key = name.lower()
    idx = next((i for i, t in enumerate(tokens) if t.lower().strip("?,.!;:“”\"'").startswith(key)), None)
    if idx is None:
        return name
    lo = hi = idx
    while lo > 1 and tokens[lo - 1][:1].isupper():  # not the question's first word ("Why", "Did")
        lo -= 1
    while hi + 1 < len(tokens) and tokens[hi + 1][:1].isupper() and not tokens[hi].endswith((",", "?", ".")):
        hi += 1
    return " ".join(tokens[lo : hi + 1]).strip("?,.!;:“”\"'")


def evidence_text(n: int, p: Passage) -> str:
    """What a citation of passage ``n`` may be judged against: its header line and its whole text.

    The whole chunk, not only the sentences the model was shown (rag/select.py): a citation points
    to the passage, and a name the answer restates may stand in a sentence that was not shown.
    """
    return f"{passage_header(n, p.meta)} {p.chunk.text}"


def citation_marks(numbers: Iterable[int]) -> str:
    """``[1][3]``: the marks for citation ``numbers``, in the order given."""
    return "".join(f"[{n}]" for n in numbers)


def with_marks(text: str, numbers: Sequence[int]) -> str:
    """``text`` with the :func:`citation_marks` of ``numbers`` before its closing punctuation
    ("Lavrov met Makei [1][2]."; a sentence without one is closed with "."); ``text`` unchanged
    when ``numbers`` is empty. A sentence whose stop is inside a closing quotation mark takes the marks
    after it and no second stop ("“… outlook.” [3]"). The one place answers, briefings and timelines put marks in a sentence."""
    if not numbers:
        return text
    if re.search(r"[.!?…][”»\"’]$", text.rstrip()):
        return f"{text.rstrip()} {citation_marks(numbers)}"
    m = re.match(r"^(.*?)([.!?]*)$", text, re.S)
    assert m is not None  # the pattern matches every string
    return f"{m.group(1)} {citation_marks(numbers)}{m.group(2) or '.'}"


def renumber(sentences: Iterable[CheckedSentence], passages: Sequence[Passage]) -> tuple[dict[int, int], list[Citation]]:
    """Citations renumbered 1..m in order of first use across ``sentences``: ``{old: new}`` (old:
    the passage numbers the model was shown, 1-based into ``passages``) and the cited sources, one
    :class:`Citation` per new number, in order. The one place answers and briefings renumber."""
    order: dict[int, int] = {}
    for s in sentences:
        for n in s.citations:
            order.setdefault(n, len(order) + 1)
    citations = [Citation.from_passage(new, passages[old - 1]) for old, new in order.items()]  # insertion = new order
    return order, citations


def render(verification: Verification, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Final answer text with citations renumbered 1..m in order of first use, and the cited sources."""
    order, citations = renumber(verification.sentences, passages)
    text = " ".join(with_marks(s.text, [order[n] for n in s.citations]) for s in verification.sentences)
    return text, citations


# Words that point back into a conversation: a question holding one needs the history to be understood.
_ANAPHORA = re.compile(
    r"\b(?:he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|then|same|"
    r"former|latter|above|previous|earlier|aforementioned)\b|^\s*(?:and|but|also|so|what about|how about)\b",
    re.IGNORECASE)


def stands_alone(question: str) -> bool:
    """True when ``question`` can be answered without the conversation: it names what it asks about
    (a capitalised name or a number after its first word) and points back at nothing ("he", "that
    visit", "what about ...?"). A rewrite costs a whole model call, so it is made only when needed."""
    named = re.search(r"(?<!^)\b(?:[A-Z][\w’'-]+|\d+)", question.strip())
    return bool(named) and not _ANAPHORA.search(question)


def history_text(history: Sequence[Any], turns: int = 3) -> str:
    """Last ``turns`` exchanges as plain text; accepts [{'role','content'}], [(user, assistant)] or
    LangChain messages (human and AI ones; system and tool messages are not part of the conversation).

    The rewrite prompt quotes the conversation as text rather than replaying it as chat messages:
    measured with evals/test_followups.py (2026-12-02, real model), the conversation as messages
    (a MessagesPlaceholder) rewrote dev 3/8 and test 7/8 follow-ups, and 5/8 / 6/8 with a stronger
    instruction, against 5/8 / 7/8 quoted as text (the model left "that meeting", "then" unresolved)."""
    lines: list[str] = []
    # messages become the dicts the rest already reads, before the slice, so that a system message
    # does not take the place of a turn
    items = [{"role": "user" if m.type == "human" else "assistant", "content": m.text}
             if isinstance(m, BaseMessage) else m
             for m in history if not isinstance(m, BaseMessage) or m.type in ("human", "ai")]
    for item in items[-2 * turns:]:
        if isinstance(item, dict):
            role = "User" if item.get("role") == "user" else "Assistant"
            lines.append(f"{role}: {item.get('content')}")
        else:
            user, bot = item
            lines += [f"User: {user}", f"Assistant: {bot}"]
    return "\n".join(lines)


def premise_note(conflict: tuple[str, str] | None) -> str:
    """The prompt's warning for the model when the question pairs names no document mentions
    together (``conflict``: :meth:`Answerer.premise_check`); "" when it does not."""
    if conflict is None:
        return ""
    a, b = conflict
    return (f"Note: none of the documents mentions {a} together with {b}. If the question assumes they go "
            f"together, say that the documents do not support this, and state what the passages say about {a} and {b}.\n\n")


class PassageSource(Protocol):
    """What :class:`Answerer` needs of a retriever; :class:`rag.retrieve.Retriever` is one."""

    def run(self, question: str, filters: Filters | None = None, top_k: int | None = None) -> Retrieval:
        """The passages for ``question``, best first, and the best dense similarity (``min_score``)."""

    def documents(self) -> dict[str, str]:
        """Full text per source, for the false-premise check ({}: no check)."""


class Answerer:
    """Answers questions over a Store with a chat model; ``run`` or ``stream``.

    ``retriever`` (default: a :class:`Retriever` over ``store``, which is then required) is any
    :class:`PassageSource`; with one, ``store`` may be None (rag/chain.py answers over any LangChain
    retriever this way). ``config`` (a LangChain RunnableConfig: callbacks, tags, metadata) is
    passed to every model call, so that tracing and token callbacks reach the chat model.
    """

    def __init__(self, store: Store | None, llm: BaseChatModel, settings: Settings | None = None,
                 retriever: PassageSource | None = None) -> None:
        if store is None and (retriever is None or settings is None):
            raise ValueError("Answerer needs a store, or a retriever and settings")
        if settings is None:
            settings = store.settings
        self.settings = settings
        self.store = store
        self.llm = llm
        self.retriever: PassageSource = retriever if retriever is not None else Retriever(store, settings)
        self.answer_chain = load_prompt("answer") | llm | StrOutputParser()
        self.condense_chain = load_prompt("condense") | llm | StrOutputParser()

    def standalone(self, question: str, history: Sequence[Any], config: RunnableConfig | None = None) -> str:
        """Rewrite a follow-up into a standalone question; unchanged, without a model call, when there
        is no history or the question already stands alone (see :func:`stands_alone`)."""
        if not history or stands_alone(question):
            return question
        rewritten = self.condense_chain.invoke({"history": history_text(history), "question": question},
                                               config).strip()
        rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
        return rewritten or question

    def retrieve(self, question: str, filters: Filters | None = None, top_k: int | None = None,
                 config: RunnableConfig | None = None) -> Retrieval:
        """The passages for ``question`` (``config`` is for subclasses that trace retrieval: rag/chain.py)."""
        return self.retriever.run(question, filters, top_k)

    def run(self, question: str, history: Sequence[Any] = (), filters: Filters | None = None,
            top_k: int | None = None, config: RunnableConfig | None = None) -> Answer:
        result: Answer | None = None
        for event in self.stream(question, history, filters, top_k, config):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def stream(self, question: str, history: Sequence[Any] = (), filters: Filters | None = None,
               top_k: int | None = None, config: RunnableConfig | None = None) -> Iterator[Retrieved | str | Answer]:
        """Yield a :class:`Retrieved` first, then raw tokens as the model writes them (none when the
        question is refused before generation), then the verified :class:`Answer`.

        A consumer that only wants text keeps the ``str`` events; one that only wants the result
        keeps the :class:`Answer` (as :meth:`run` does).
        """
        question = question.strip()
        if not question:
            raise ValueError("empty question")
        if self.store is not None and self.store.count() == 0:
            raise LookupError(f"the store at {self.store.location} is empty: run `rag ingest PATH` first")
        t0 = time.perf_counter()
        standalone = self.standalone(question, history, config)
        t_rewrite = (time.perf_counter() - t0) * 1000.0
        retrieval = self.retrieve(standalone, filters, top_k, config)
        passages = retrieval.passages
        timings = {"retrieve_ms": retrieval.elapsed_ms, "generate_ms": 0.0}
        if history:
            timings["rewrite_ms"] = t_rewrite
        yield Retrieved(question, standalone, passages, retrieval.elapsed_ms)
        if not passages or retrieval.best_dense < self.settings.min_score:
            timings["total_ms"] = (time.perf_counter() - t0) * 1000.0
            yield Answer(question, REFUSAL_TEXT, True, [], timings, standalone, passages=passages)
            return
        self.show_sentences(standalone, passages)
        block = format_passages((i, p.meta, p.shown_text) for i, p in enumerate(passages, start=1))
        conflict = self.premise_check(standalone)  # once per answer: the prompt's note and the refusal's correction
        note = premise_note(conflict)
        t1 = time.perf_counter()
        raw = ""
        for token in self.answer_chain.stream({"passages": block, "question": standalone, "note": note}, config):
            if not raw:
                timings["first_token_ms"] = (time.perf_counter() - t0) * 1000.0  # question received → first token
            raw += token
            yield token
        t2 = time.perf_counter()
        timings["generate_ms"] = (t2 - t1) * 1000.0
        answer = self.finish(question, standalone, raw, passages, timings, conflict=conflict)
        timings["verify_ms"] = (time.perf_counter() - t2) * 1000.0
        timings["total_ms"] = (time.perf_counter() - t0) * 1000.0  # question received → verified answer
        yield answer

    def show_sentences(self, question: str, passages: list[Passage]) -> None:
        """Set what the model is shown of each passage: its heading and the sentences bearing on the question."""
        per = self.settings.sentences_per_passage
        if per <= 0:
            return
        picked = select_sentences(question, [(p.chunk.body, p.meta.get("title")) for p in passages], per)
        for p, sel in zip(passages, picked):
            offset = int(p.meta.get("body_offset", 0)) if p.meta.get("heading") else 0
            p.shown = p.chunk.text[:offset] + sel.text

    def premise_check(self, question: str) -> tuple[str, str] | None:
        """Two names in ``question`` that no document mentions together (:func:`rag.verify.premise_conflict`
        over the retriever's documents), or None. :meth:`stream` runs it once per answer and passes
        the result to both the prompt's note (:func:`premise_note`) and :meth:`finish`."""
        return premise_conflict(question, self.retriever.documents())

    def finish(self, question: str, standalone: str, raw: str, passages: list[Passage],
               timings: dict[str, float], *, conflict: tuple[str, str] | None) -> Answer:
        """Verify ``raw`` against ``passages`` and build the final answer (or a refusal).

        A refusal always tells what the documents do say nearby (the closest evidence sentence,
        cited) when there is such a sentence, and, when the question pairs names that no document
        mentions together, states that correction first: the small default model often refuses a
        false-premise question instead of correcting it, so the correction is made in code.

        ``conflict`` is :meth:`premise_check` of ``standalone`` (:meth:`stream` runs it once, for the
        prompt's note and for this).
        """
        evidence = {i: evidence_text(i, p) for i, p in enumerate(passages, start=1)}
        checked = verify_answer(raw, evidence, self.settings.support_threshold, question=standalone,
                                max_cited=self.settings.max_cited, window=self.settings.support_window)
        if not checked.refused and any(s.citations for s in checked.sentences):
            text, citations = render(checked, passages)
            return Answer(question, text, False, citations, timings, standalone, raw, checked.dropped, passages)
        text, citations = render(checked, passages) if checked.refused else (REFUSAL_TEXT, [])
        if conflict is not None:
            spans = [_name_span(standalone, name) for name in conflict]
            note = f"None of the documents mentions {spans[0]} together with {spans[1]}."
            if not citations:
                # what the documents say about each name without the other corrects the premise
                text, citations = self._premise_quotes(standalone, spans, passages)
            return Answer(question, f"{note} {text}", True, citations, timings, standalone, raw, checked.dropped, passages)
        if not citations:
            # the model refused bare, or nothing it wrote was supported: quote the closest evidence
            score, text, citations = self.closest_evidence(standalone, passages)
            if not checked.refused and citations and score >= self.settings.extract_min_support:
                # the quote holds all the question asks about: an extractive answer, not a refusal
                text = text.replace(f"{REFUSAL_TEXT} The closest passage says:", "The documents say:", 1)
                return Answer(question, text, False, citations, timings, standalone, raw, checked.dropped, passages)
        return Answer(question, text, True, citations, timings, standalone, raw, checked.dropped, passages)

    def _premise_quotes(self, question: str, spans: list[str], passages: list[Passage]) -> tuple[str, list[Citation]]:
        """For a question pairing two names no document pairs: the closest sentence about each name
        asked without the other, cited ("About Brest: “... met Ryzhenkov ... in Brest” [1]")."""
        parts: list[str] = []
        citations: list[Citation] = []
        for keep, drop in ((spans[1], spans[0]), (spans[0], spans[1])):
            best = self._best_sentence(question.replace(drop, " "), passages)
            if best is None or any(c.chunk_id == passages[best[1] - 1].chunk.id for c in citations):
                continue
            n = len(citations) + 1
            citations.append(Citation.from_passage(n, passages[best[1] - 1]))
            parts.append(f"About {keep}, the documents say: “{best[2]}” [{n}]")
        return (" ".join(parts) if parts else REFUSAL_TEXT), citations

    def closest_evidence(self, question: str, passages: list[Passage]) -> tuple[float, str, list[Citation]]:
        """(score, text, citations): the refusal text plus the one sentence of the top passages that
        shares most with the question (score: :func:`rag.verify.support` of the question by it).

        When no sentence holds every name the question asks about, the quote is the sentence sharing
        most of the question's words, and the score 0 (it never passes for an answer): for a question
        built on a false premise ("Why was the session held in Moscow?") that sentence usually states
        the fact that corrects it ("... a joint session ... in Minsk")."""
        best = self._best_sentence(question, passages)
        if best is None:
            partial = self._best_sentence(question, passages, strict=False)
            if partial is None:
                return 0.0, REFUSAL_TEXT, []
            best = (0.0,) + partial[1:]
        score, n, quote = best
        return (score, f"{REFUSAL_TEXT} The closest passage says: “{quote}” [1]",
                [Citation.from_passage(1, passages[n - 1])])

    def _best_sentence(self, question: str, passages: list[Passage], strict: bool = True) -> tuple[float, int, str] | None:
        """(score, passage number, quote) of the top passages' sentence that best supports the
        question's names and words (``strict``: :func:`rag.verify.support`, 0 when a name is missing;
        otherwise the share of the question's content words it holds); None below the floor.

        The top passages: the first ``settings.quote_passages``; the floor: ``settings.quote_min_support``."""
        best: tuple[float, int, str] | None = None
        asked = re.sub(_SLOT_WORDS, " ", question)  # "what date": the date is what the sentence should hold
        asked_words = content_words(asked)
        for i, p in enumerate(passages[:self.settings.quote_passages], start=1):
            # a sentence that only repeats the document's title and date ("March 21, 2018") tells nothing
            header_words = content_words(f"{p.meta.get('title', '')} {p.meta.get('date_label', '')}")
            for sent in body_sentences(p.chunk.body, p.meta.get("title")):
                if content_words(sent) <= header_words:
                    continue
                if strict:
                    score = support(asked, sent)
                else:
                    score = len(asked_words & content_words(sent)) / len(asked_words) if asked_words else 0.0
                if best is None or score > best[0]:
                    best = (score, i, sent)
        if best is None or best[0] < self.settings.quote_min_support:
            return None
        # a document's own citation-like markers ("[12]") must not pass for citations of the answer
        return best[0], best[1], strip_citations(best[2]).strip('“”" ')


def build_answerer(settings: Settings, *, store: Store | None = None, llm: BaseChatModel | None = None) -> Answerer:
    """The answerer every entry point uses (CLI, web app, evals, benchmarks): one home for how the
    store, the chat model and the :class:`Answerer` are put together.

    ``store``: default the existing store that ``settings`` name (``Store(settings, create=False)``:
    :class:`rag.store.StoreError` when there is none); ``llm``: default the configured chat model
    (:func:`rag.llm.make_llm`, ``settings.llm``). The store is opened before the model is built, so
    a missing store fails fast. Pass either to share it (the web app's one store per process, the
    evals' one model across corpora) or to handle its errors yourself (the CLI).
    """
    if store is None:
        store = Store(settings, create=False)
    if llm is None:
        llm = make_llm(settings=settings)
    return Answerer(store, llm, settings)
