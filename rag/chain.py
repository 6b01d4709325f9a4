"""The cited-answer chain as a LangChain Runnable: :func:`cited_answer_chain`.

The chain is the project's :class:`rag.answer.Answerer` (retrieve → prompt → generate → verify →
cite) behind the Runnable interface, so answers are made exactly as ``rag ask`` makes them; what is
added here is the interface: the input forms LangChain code passes, the ``RunnableConfig``
(callbacks, tags, metadata, run name) reaching the retriever and every chat-model call, and the
output as the project's :class:`rag.answer.Answer`.

- ``invoke`` / ``batch`` / ``ainvoke`` / ``abatch`` return :class:`~rag.answer.Answer` (``answer``:
  the verified text with ``[n]`` marks; ``citations``: one :class:`~rag.answer.Citation` per
  ``n``; ``refused``; ``to_json()`` for a dict).
- ``stream`` / ``astream`` yield the verified answer text (``str``). Only verified text: it comes in
  one piece once verification is done, because the model's raw tokens may hold sentences the check
  drops; so ``"".join(chain.stream(x)) == chain.invoke(x).answer``. The raw tokens, as the model
  writes them, are the inner chat model's: ``on_llm_new_token`` callbacks and ``astream_events``'s
  ``on_chat_model_stream`` events.
- ``astream_events``: the chain's run ends (``on_chain_end``) with the :class:`~rag.answer.Answer`;
  retrieval is a retriever run whose ``on_retriever_end`` carries the passages as Documents.
"""
from __future__ import annotations

import time
from typing import Any, AsyncIterator, Iterator, Sequence, Union

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import (ensure_config, get_async_callback_manager_for_config,
                                             get_callback_manager_for_config, patch_config, run_in_executor)
from typing_extensions import Required, TypedDict

from rag.answer import Answer, Answerer
from rag.config import Settings
from rag.documents import HybridRetriever, to_documents, to_passage
from rag.retrieve import Filters, Retrieval
from rag.store import Store

History = Sequence[Union[BaseMessage, dict, tuple]]


class ChainInput(TypedDict, total=False):
    """The dict form of the chain's input."""

    question: Required[str]
    # the conversation before the question: LangChain messages (human and AI), {'role', 'content'}
    # dicts or (user, assistant) pairs; a follow-up ("Where did he meet him?") is rewritten with it
    chat_history: History


def parse_input(value: Any) -> tuple[str, list[Any]]:
    """(question, history) from what the chain accepts: a question string; a :class:`ChainInput`
    dict (``history`` is read as well as ``chat_history``); a list of messages or a PromptValue whose
    last message is the human question and the ones before it the conversation."""
    if isinstance(value, str):
        return value, []
    if isinstance(value, dict):
        if not isinstance(value.get("question"), str):
            raise TypeError("the chain's dict input needs a 'question' string")
        return value["question"], list(value.get("chat_history", value.get("history")) or [])
    if isinstance(value, PromptValue):
        value = value.to_messages()
    if isinstance(value, BaseMessage):
        value = [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(m, BaseMessage) for m in value):
        if value[-1].type != "human":
            raise ValueError("the last message must be the user's question")
        return value[-1].text, list(value[:-1])
    raise TypeError(f"the chain takes a question, a dict with 'question', or messages; got {type(value).__name__}")


class _RetrieverPassages:
    """Any LangChain retriever as the Answerer's :class:`rag.answer.PassageSource`.

    It gives no dense similarity, so the ``min_score`` refusal before generation does not apply (a
    question is refused unasked only when nothing is retrieved; the verifier still checks every
    sentence), and no corpus, so there is no false-premise check (it needs every document's text).
    Filters and ``top_k`` are the retriever's own business.
    """

    def __init__(self, retriever: Runnable[str, list[Document]]) -> None:
        self.retriever = retriever

    def run(self, question: str, filters: Filters | None = None, top_k: int | None = None,
            config: RunnableConfig | None = None) -> Retrieval:
        t0 = time.perf_counter()
        docs = self.retriever.invoke(question, config)
        return Retrieval([to_passage(d) for d in docs], 1.0, (time.perf_counter() - t0) * 1000.0)

    def documents(self) -> dict[str, str]:
        return {}


class _ChainAnswerer(Answerer):
    """The Answerer with retrieval reported to the config's callbacks as a retriever run."""

    def retrieve(self, question: str, filters: Filters | None = None, top_k: int | None = None,
                 config: RunnableConfig | None = None) -> Retrieval:
        if isinstance(self.retriever, _RetrieverPassages):
            return self.retriever.run(question, filters, top_k, config)  # a retriever run of its own
        # The project's retriever runs directly rather than through HybridRetriever.invoke: the chain
        # needs the whole Retrieval (best dense similarity of all candidates, for min_score), which
        # Documents do not carry; the callbacks still see a retriever run with the Documents.
        manager = get_callback_manager_for_config(ensure_config(config))
        run = manager.on_retriever_start(None, question, name=HybridRetriever.__name__)
        try:
            retrieval = super().retrieve(question, filters, top_k)
        except BaseException as exc:
            run.on_retriever_error(exc)
            raise
        run.on_retriever_end(to_documents(retrieval.passages))
        return retrieval


class CitedAnswerChain(Runnable[Union[str, ChainInput, Sequence[BaseMessage]], Answer]):
    """Cited, verified answers as a Runnable; build it with :func:`cited_answer_chain`."""

    def __init__(self, answerer: Answerer, filters: Filters | None = None, top_k: int | None = None) -> None:
        self.answerer = answerer
        self.filters = filters
        self.top_k = top_k

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return Union[str, ChainInput, list[BaseMessage]]

    @property
    def OutputType(self) -> type[Answer]:  # noqa: N802
        return Answer

    def _answer(self, value: Any, config: RunnableConfig) -> Answer:
        question, history = parse_input(value)
        return self.answerer.run(question, history, self.filters, self.top_k, config)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """The verified :class:`~rag.answer.Answer` to ``input`` (see :func:`parse_input`)."""
        return self._call_with_config(self._answer, input, config, run_type="chain")

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[str]:
        """The verified answer text, in one piece (see the module docstring for why)."""
        config = ensure_config(config)
        run = get_callback_manager_for_config(config).on_chain_start(
            None, input, name=config.get("run_name") or self.get_name(), run_id=config.pop("run_id", None))
        try:
            answer = self._answer(input, patch_config(config, callbacks=run.get_child()))
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        try:
            yield answer.answer  # while the run is open, so that stream tracers see the chunk
        finally:
            run.on_chain_end(answer)  # the whole Answer, as invoke's run ends with

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[str]:
        """:meth:`stream` for async code: the answer is made in a worker thread (the backends are
        synchronous), and the event loop keeps running meanwhile."""
        config = ensure_config(config)
        run = await get_async_callback_manager_for_config(config).on_chain_start(
            None, input, name=config.get("run_name") or self.get_name(), run_id=config.pop("run_id", None))
        child = patch_config(config, callbacks=run.get_child())
        try:
            # the whole answer in one worker thread: LlamaCppChat holds its lock across a stream, and
            # a lock must be released by the thread that took it
            answer = await run_in_executor(child, self._answer, input, child)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        try:
            yield answer.answer
        finally:
            await run.on_chain_end(answer)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """:meth:`invoke` for async code (in a worker thread, as :meth:`astream`)."""
        return await self._acall_with_config(self._aanswer, input, config, run_type="chain")

    async def _aanswer(self, value: Any, config: RunnableConfig) -> Answer:
        return await run_in_executor(config, self._answer, value, config)


def cited_answer_chain(retriever: BaseRetriever | Runnable[str, list[Document]] | None = None, *,
                       llm: BaseChatModel | None = None, store: Store | None = None,
                       settings: Settings | None = None) -> CitedAnswerChain:
    """The cited-answer chain over ``retriever`` or ``store`` with the chat model ``llm``.

    - ``retriever``: a :class:`rag.documents.HybridRetriever` (its filters and ``top_k`` apply), or
      any LangChain ``BaseRetriever`` or other Runnable from a question to Documents (they are the
      passages; no ``min_score`` refusal and no false-premise check, see ``_RetrieverPassages``).
      Give a retriever or a store, not both.
    - ``store``: an open :class:`rag.store.Store`, searched without filters. Neither: the store that
      ``settings`` (default ``Settings.from_env()``: ``RAG_STORE``, ...) names, opened read-only.
    - ``llm``: any LangChain chat model; default ``rag.llm.make_llm(settings=settings)`` (``RAG_LLM``:
      ``local``, ``gguf:…``, ``openai:…``, ``fake:TEXT``).
    - ``settings``: the pipeline's knobs (``min_score``, ``support_threshold``, ``max_cited``, ...);
      default the store's (the retriever's), or ``Settings.from_env()`` for another retriever.
    """
    if retriever is not None and store is not None:
        raise ValueError("give cited_answer_chain a retriever or a store, not both")
    if retriever is None:
        retriever = HybridRetriever(store=store, settings=settings) if store is not None \
            else HybridRetriever.from_settings(settings)
    if llm is None:
        from rag.llm import make_llm

        llm = make_llm(settings=settings)
    if isinstance(retriever, HybridRetriever):
        settings = settings or retriever.settings or retriever.store.settings
        answerer = _ChainAnswerer(retriever.store, llm, settings, retriever=retriever.retriever)
        return CitedAnswerChain(answerer, retriever.filters, retriever.top_k)
    if not isinstance(retriever, Runnable):
        raise TypeError(f"retriever must be a LangChain retriever, got {type(retriever).__name__}")
    answerer = _ChainAnswerer(None, llm, settings or Settings.from_env(), retriever=_RetrieverPassages(retriever))
    return CitedAnswerChain(answerer)
