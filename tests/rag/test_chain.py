"""The LangChain face of the pipeline (rag/documents.py, rag/chain.py, rag/__init__.py) over the real
seed store, with fake chat models: the ``fake:`` spec of ``make_llm`` (the path a user takes) and
langchain-core's FakeListChatModel where a test needs several replies."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever

from rag.answer import Answer, Answerer
from rag.brief import Briefer, Briefing
from rag.brief_chain import briefing_chain, parse_briefing_input
from rag.chain import cited_answer_chain, parse_input
from rag.documents import HybridRetriever, to_document, to_passage
from rag.llm import make_llm

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Who did Lavrov meet in Brest?"
REPLY = "Lavrov met Maxim Ryzhenkov in Brest [1]."
BREST = "000_e3a7af6ccd77722d.txt"


def fake(reply: str = REPLY):
    return make_llm(f"fake:{reply}")


class Recorder(BaseCallbackHandler):
    """Records the chat-model and retriever callbacks it receives, with their tags."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_chat_model_start(self, serialized, messages, *, tags=None, metadata=None, **kw):
        self.events.append(("chat_model_start", (tags, metadata, messages)))

    def on_llm_new_token(self, token, **kw):
        self.events.append(("token", token))

    def on_retriever_end(self, documents, **kw):
        self.events.append(("retriever_end", documents))

    def of(self, kind: str) -> list[object]:
        return [v for k, v in self.events if k == kind]


# --- the retriever


def test_retriever_returns_documents_with_scores_and_metadata(seed_store):
    docs = HybridRetriever(store=seed_store).invoke(QUESTION)
    assert len(docs) == seed_store.settings.top_k and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["source"] == BREST and "Ryzhenkov" in top.page_content
    for key in ("score", "dense", "bm25", "date", "date_label", "title", "chunk_id", "page", "page_end", "heading"):
        assert key in top.metadata, key
    assert top.metadata["date"] == "--11-22" and top.metadata["page"] is None and top.id == top.metadata["chunk_id"]
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)


def test_retriever_is_the_projects_retrieval(seed_store):
    from rag.retrieve import Retriever

    docs = HybridRetriever(store=seed_store).invoke(QUESTION)
    passages = Retriever(seed_store).run(QUESTION).passages
    assert [d.metadata["chunk_id"] for d in docs] == [p.chunk.id for p in passages]
    assert [d.metadata["score"] for d in docs] == [p.score for p in passages]
    assert [d.page_content for d in docs] == [p.chunk.text for p in passages]


def test_retriever_filters_and_top_k_are_fields(seed_store):
    docs = HybridRetriever(store=seed_store, sources=("002_e0b109478491a41f.txt",), top_k=2).invoke("Lavrov visit")
    assert len(docs) == 2 and {d.metadata["source"] for d in docs} == {"002_e0b109478491a41f.txt"}
    in_2023 = HybridRetriever(store=seed_store, date_from="2023-01-01", date_to="2023-12-31")
    dated = in_2023.invoke("Lavrov visit to Minsk")
    assert dated and all(d.metadata["date"].startswith("2023") for d in dated)
    with pytest.raises(ValueError, match="not a date"):
        HybridRetriever(store=seed_store, date_from="2023-13")


def test_retriever_composes_and_batches(seed_store):
    retriever = HybridRetriever(store=seed_store, top_k=2)
    sources = retriever | (lambda docs: [d.metadata["source"] for d in docs])
    assert sources.invoke(QUESTION)[0] == BREST
    assert [len(d) for d in retriever.batch([QUESTION, "Who is Makei?"])] == [2, 2]
    assert asyncio.run(retriever.ainvoke(QUESTION))[0].metadata["source"] == BREST


# --- the chain


def test_invoke_answers_as_the_answerer_does(seed_store):
    chain = cited_answer_chain(store=seed_store, llm=fake())
    answer = chain.invoke(QUESTION)
    direct = Answerer(seed_store, fake()).run(QUESTION)
    assert isinstance(answer, Answer) and not answer.refused
    assert answer.answer == direct.answer == REPLY
    assert [c.to_json() for c in answer.citations] == [c.to_json() for c in direct.citations]
    assert answer.citations[0].source == BREST


def test_refusal_before_generation_is_kept(seed_store):
    llm = FakeListChatModel(responses=["should not be used [1]"])
    recorder = Recorder()
    answer = cited_answer_chain(store=seed_store, llm=llm).invoke(
        "What is the recipe for sourdough bread with rye flour?", {"callbacks": [recorder]})
    assert answer.refused and answer.citations == [] and recorder.of("chat_model_start") == []


def test_stream_yields_the_verified_text(seed_store):
    # the model writes an unsupported second sentence: invoke drops it, and stream never shows it
    chain = cited_answer_chain(store=seed_store, llm=fake(REPLY + " He also visited the Moon in 1969."))
    chunks = list(chain.stream(QUESTION))
    assert all(isinstance(c, str) for c in chunks) and "".join(chunks) == chain.invoke(QUESTION).answer
    assert "Moon" not in "".join(chunks)


def test_batch_and_async(seed_store):
    chain = cited_answer_chain(store=seed_store, llm=fake())
    answers = chain.batch([QUESTION, {"question": QUESTION}, "What is the recipe for sourdough bread with rye flour?"])
    assert [a.refused for a in answers] == [False, False, True]
    assert answers[0].answer == answers[1].answer == REPLY
    assert asyncio.run(chain.ainvoke(QUESTION)).answer == REPLY
    assert [a.answer for a in asyncio.run(chain.abatch([QUESTION, QUESTION]))] == [REPLY, REPLY]

    async def collect():
        return [c async for c in chain.astream(QUESTION)]

    assert asyncio.run(collect()) == [REPLY]


def test_astream_events_show_retrieval_tokens_and_the_answer(seed_store):
    chain = cited_answer_chain(store=seed_store, llm=fake())

    async def collect():
        return [e async for e in chain.astream_events(QUESTION, version="v2")]

    events = asyncio.run(collect())
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chain_start" and events[0]["name"] == "CitedAnswerChain"
    assert kinds[-1] == "on_chain_end" and isinstance(events[-1]["data"]["output"], Answer)
    assert events[-1]["data"]["output"].answer == REPLY
    root = events[0]["run_id"]
    retrieved = next(e for e in events if e["event"] == "on_retriever_end")
    assert retrieved["data"]["output"][0].metadata["source"] == BREST and root in retrieved["parent_ids"]
    tokens = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert len(tokens) > 1 and "".join(e["data"]["chunk"].content for e in tokens) == REPLY
    assert all(root in e["parent_ids"] for e in tokens)
    assert [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream" and e["run_id"] == root] == [REPLY]


@pytest.mark.parametrize("method", ["invoke", "stream", "batch"])
def test_config_callbacks_and_tags_reach_the_chat_model(seed_store, method):
    chain = cited_answer_chain(store=seed_store, llm=fake())
    recorder = Recorder()
    config = {"callbacks": [recorder], "tags": ["my-tag"], "metadata": {"user": "u1"}}
    if method == "invoke":
        chain.invoke(QUESTION, config)
    elif method == "stream":
        list(chain.stream(QUESTION, config))
    else:
        chain.batch([QUESTION], config)
    [(tags, metadata, messages)] = recorder.of("chat_model_start")
    assert "my-tag" in tags and metadata["user"] == "u1"
    assert "Question: " + QUESTION in messages[0][-1].content  # the answer prompt, with its passages
    assert "".join(recorder.of("token")) == REPLY
    [docs] = recorder.of("retriever_end")
    assert docs[0].metadata["source"] == BREST


def test_message_history_is_the_conversation(seed_store):
    # two replies: the rewrite of the follow-up, then the answer
    llm = FakeListChatModel(responses=["Where did Lavrov meet Maxim Ryzhenkov?", REPLY])
    recorder = Recorder()
    chain = cited_answer_chain(store=seed_store, llm=llm)
    history = [SystemMessage("Be brief."), HumanMessage("Who is Maxim Ryzhenkov?"),
               AIMessage("Belarus's foreign minister [1].")]
    answer = chain.invoke({"question": "Where did they meet?", "chat_history": history}, {"callbacks": [recorder]})
    assert answer.standalone_question == "Where did Lavrov meet Maxim Ryzhenkov?" and answer.answer == REPLY
    condense_prompt = recorder.of("chat_model_start")[0][2][0][-1].content
    assert "User: Who is Maxim Ryzhenkov?\nAssistant: Belarus's foreign minister [1]." in condense_prompt
    assert "Be brief" not in condense_prompt  # a system message is no turn of the conversation


def test_messages_and_prompt_values_are_inputs(seed_store):
    chain = cited_answer_chain(store=seed_store, llm=fake())
    assert chain.invoke([HumanMessage(QUESTION)]).answer == REPLY
    prompt = ChatPromptTemplate.from_messages([("human", "Who did {who} meet in Brest?")])
    assert (prompt | chain).invoke({"who": "Lavrov"}).answer == REPLY
    # dict history as the app and the server pass it, under either key
    assert parse_input({"question": "q?", "history": [{"role": "user", "content": "hi"}]}) == (
        "q?", [{"role": "user", "content": "hi"}])
    conversation = [HumanMessage("a"), AIMessage("b"), HumanMessage("c?")]
    assert parse_input(conversation) == ("c?", conversation[:2])
    with pytest.raises(ValueError, match="last message"):
        parse_input([HumanMessage("a"), AIMessage("b")])
    with pytest.raises(TypeError):
        parse_input({"chat_history": []})


def test_the_chain_takes_the_hybrid_retrievers_filters(seed_store):
    retriever = HybridRetriever(store=seed_store, sources=("002_e0b109478491a41f.txt",), top_k=2)
    answer = cited_answer_chain(retriever, llm=fake()).invoke(QUESTION)
    assert len(answer.passages) == 2 and {p.meta["source"] for p in answer.passages} == {"002_e0b109478491a41f.txt"}


class ListRetriever(BaseRetriever):
    """Another retriever: fixed Documents without the project's metadata."""

    docs: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return self.docs


def test_the_chain_answers_over_any_retriever():
    text = "Russian Foreign Minister Sergey Lavrov met with Belarusian Foreign Minister Maxim Ryzhenkov in Brest."
    retriever = ListRetriever(docs=[Document(text, metadata={"source": "notes.txt", "title": "Notes"}),
                                    Document("The weather in Minsk was cold.", id="w1")])
    recorder = Recorder()
    chain = cited_answer_chain(retriever, llm=fake())
    answer = chain.invoke(QUESTION, {"callbacks": [recorder]})
    assert not answer.refused and answer.answer == REPLY
    assert answer.citations[0].source == "notes.txt" and answer.citations[0].text == text
    assert len(recorder.of("retriever_end")) == 1 and recorder.of("token")
    empty = cited_answer_chain(ListRetriever(docs=[]), llm=fake()).invoke(QUESTION)
    assert empty.refused and empty.citations == []
    with pytest.raises(ValueError, match="not both"):
        cited_answer_chain(retriever, store=object(), llm=fake())  # type: ignore[arg-type]


def test_document_round_trip_keeps_what_a_citation_needs(seed_store):
    passage = HybridRetriever(store=seed_store).retrieval(QUESTION).passages[0]
    back = to_passage(to_document(passage))
    assert back.chunk.id == passage.chunk.id and back.chunk.text == passage.chunk.text
    assert (back.score, back.dense, back.bm25) == (passage.score, passage.dense, passage.bm25)
    assert {k: v for k, v in back.meta.items() if v is not None} == passage.meta


# --- the briefing chain


def _prompt_text(messages) -> str:
    return "\n".join(str(m.content) for batch in messages for m in batch)


def test_briefing_chain_invoke_returns_the_briefers_cited_briefing(seed_store):
    chain = briefing_chain(llm=fake(), store=seed_store)
    briefing = chain.invoke("Ryzhenkov")
    assert isinstance(briefing, Briefing) and briefing.topic == "Ryzhenkov"
    # the model bullet's passage first, then the quotes filling the room (all from the one Brest document)
    assert {c.source for c in briefing.citations} == {BREST} and "[1]" in briefing.markdown
    assert briefing.bullets[0] == REPLY and all(b.startswith("“") for b in briefing.bullets[1:])
    # exactly what rag brief makes: the Briefer with the same store and model
    assert briefing.markdown == Briefer(Answerer(seed_store, fake(), seed_store.settings)).briefing("Ryzhenkov").markdown
    # None, "" and a dict without a topic are the whole collection
    whole = chain.invoke(None)
    assert whole.topic is None and whole.markdown.startswith("# Briefing: the whole collection\n")
    assert chain.invoke("").markdown == whole.markdown == chain.invoke({"timeline": False}).markdown
    assert list(chain.stream("Ryzhenkov")) == [briefing]  # one final chunk, the Briefing


def test_briefing_chain_batch_and_timelines(seed_store):
    chain = briefing_chain(llm=fake(), store=seed_store)
    briefing, timeline = chain.batch(["Ryzhenkov", {"topic": "Ryzhenkov", "timeline": True}])
    assert briefing.markdown.startswith("# Briefing: Ryzhenkov\n") and briefing.citations
    assert timeline.markdown.startswith("# Timeline: Ryzhenkov\n") and timeline.citations
    assert all(c.source == BREST for c in timeline.citations)
    assert briefing_chain(llm=fake(), store=seed_store, timeline=True).invoke("Ryzhenkov").markdown == timeline.markdown
    assert asyncio.run(chain.ainvoke("Ryzhenkov")).markdown == briefing.markdown


def test_briefing_chain_config_callbacks_reach_the_map_and_reduce_calls(seed_store):
    recorder = Recorder()
    chain = briefing_chain(llm=fake(), store=seed_store)
    chain.invoke(None, {"callbacks": [recorder], "tags": ["brief-test"], "metadata": {"who": "test"}})
    starts = recorder.of("chat_model_start")
    maps = [s for s in starts if "notes for an analyst's briefing" in _prompt_text(s[2])]
    assert len(maps) == len(seed_store.sources())  # one map call per document of the collection
    assert len(starts) == len(maps) + 1  # then the reduce
    assert all("brief-test" in tags and metadata.get("who") == "test" for tags, metadata, _ in starts)


def test_briefing_chain_input_forms_and_defaults(seed_settings, seed_store):
    assert parse_briefing_input("  Brest ") == ("Brest", False)
    assert parse_briefing_input({"topic": "", "timeline": True}) == (None, True)
    assert parse_briefing_input({"topic": "Brest"}, timeline=True) == ("Brest", True)
    with pytest.raises(TypeError):
        parse_briefing_input(42)
    # no store: the one the settings name, opened read-only
    chain = briefing_chain(llm=fake(), settings=seed_settings)
    assert chain.invoke("Ryzhenkov").markdown == briefing_chain(llm=fake(), store=seed_store).invoke("Ryzhenkov").markdown


# --- the fake model, the public API, the README


def test_fake_model_is_chosen_like_a_real_one(cli, seed_store_dir):
    llm = make_llm("fake:hello there")
    assert llm.invoke("hi").content == "hello there" and llm.invoke("again").content == "hello there"
    assert "".join(c.content for c in llm.stream("hi")) == "hello there"
    with pytest.raises(ValueError, match="reply text"):
        make_llm("fake:")
    result = cli("ask", "--json", "--store", seed_store_dir, "--llm", f"fake:{REPLY}", QUESTION)
    assert result.exit_code == 0, result.output
    assert '"answer": "Lavrov met Maxim Ryzhenkov in Brest [1]."' in result.stdout


def test_public_api_is_importable_and_import_rag_is_light():
    import rag

    for name in rag.__all__:
        assert getattr(rag, name) is not None
    assert rag.cited_answer_chain is cited_answer_chain and rag.HybridRetriever is HybridRetriever
    assert rag.briefing_chain is briefing_chain and rag.Briefing is Briefing
    code = ("import sys, rag; "
            "print([m for m in ('langchain_core', 'chromadb', 'torch', 'llama_cpp') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Use from LangChain\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(seed_store_dir, monkeypatch, capsys):
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    # what a user would set: the store, and the model (the fake one, as `--llm fake:…`)
    monkeypatch.setenv("RAG_STORE", str(seed_store_dir))
    monkeypatch.setenv("RAG_LLM", f"fake:{REPLY}")
    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert BREST in out[0] and "'--11-22'" in out[0]  # the Documents: source, date, score
    assert out[1] == REPLY
    assert out[2].startswith("[1] Lavrov Visit to Belarus") and BREST in out[2]
    assert f"[1] {BREST}" in out  # the composed chain's output: answer, then its sources
    assert out[-1].startswith("[") and "True" in out[-1]  # the batch: the bread question is refused
