"""The briefing as a LangChain Runnable: :func:`briefing_chain`.

The chain is the project's :class:`rag.brief.Briefer` (gather the documents on a topic → map each to
verified, cited bullets → reduce to a title and lead; or the dated timeline) behind the Runnable
interface, so briefings are made exactly as ``rag brief`` makes them. What is added is the interface:
the input forms, the ``RunnableConfig`` (callbacks, tags, metadata, run name) reaching every
chat-model call (map, reduce, timeline events), and the output as the project's
:class:`rag.brief.Briefing` (``markdown``, ``citations``, ``bullets``, ``to_json()``).

- Input: a topic string, or a :class:`BriefingInput` dict ``{"topic": ..., "timeline": bool}``;
  ``None`` or ``""`` (or a dict without a topic) is the whole collection. ``timeline`` defaults to the
  builder's.
- ``invoke`` / ``batch`` / ``ainvoke`` / ``abatch`` return the :class:`~rag.brief.Briefing`.
- ``stream`` / ``astream`` yield one chunk, the finished :class:`~rag.brief.Briefing` (LangChain's
  default for a Runnable that does not stream): its bullets are verified only once every document is
  mapped. The model's raw tokens are the inner chat model's (``on_llm_new_token`` callbacks,
  ``astream_events``'s ``on_chat_model_stream``).
"""
from __future__ import annotations

from typing import Any, Optional, Union

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from typing_extensions import TypedDict

from rag.answer import build_answerer
from rag.brief import Briefer, Briefing
from rag.config import Settings
from rag.store import Store


class BriefingInput(TypedDict, total=False):
    """The dict form of the briefing chain's input."""

    topic: Optional[str]  # None or "": the whole collection
    timeline: bool  # a dated timeline instead of a briefing; default the chain's


def parse_briefing_input(value: Any, timeline: bool = False) -> tuple[str | None, bool]:
    """(topic or None, timeline) from what the chain accepts: a topic string, None, or a
    :class:`BriefingInput` dict."""
    if value is None or isinstance(value, str):
        topic = value
    elif isinstance(value, dict):
        topic = value.get("topic")
        if topic is not None and not isinstance(topic, str):
            raise TypeError("the briefing chain's 'topic' must be a string or None")
        timeline = bool(value.get("timeline", timeline))
    else:
        raise TypeError(f"the briefing chain takes a topic, None, or a dict with 'topic'; got {type(value).__name__}")
    topic = topic.strip() if topic else None
    return topic or None, timeline


class BriefingChain(Runnable[Union[str, None, BriefingInput], Briefing]):
    """Cited briefings (or timelines) as a Runnable; build it with :func:`briefing_chain`."""

    def __init__(self, briefer: Briefer, timeline: bool = False) -> None:
        self.briefer = briefer
        self.timeline = timeline

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return Union[str, None, BriefingInput]

    @property
    def OutputType(self) -> type[Briefing]:  # noqa: N802
        return Briefing

    def _brief(self, value: Any, config: RunnableConfig) -> Briefing:
        topic, timeline = parse_briefing_input(value, self.timeline)
        make = self.briefer.timeline if timeline else self.briefer.briefing
        return make(topic, config=config)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Briefing:
        """The :class:`~rag.brief.Briefing` on ``input`` (see :func:`parse_briefing_input`)."""
        return self._call_with_config(self._brief, input, config, run_type="chain")


def briefing_chain(*, llm: BaseChatModel | None = None, store: Store | None = None,
                   settings: Settings | None = None, timeline: bool = False) -> BriefingChain:
    """The briefing chain over ``store`` with the chat model ``llm``.

    - ``store``: an open :class:`rag.store.Store`; default the existing store that ``settings``
      (default ``Settings.from_env()``: ``RAG_STORE``, ...) names.
    - ``llm``: any LangChain chat model; default ``rag.llm.make_llm(settings=settings)`` (``RAG_LLM``:
      ``local``, ``gguf:…``, ``openai:…``, ``fake:TEXT``).
    - ``settings``: the pipeline's knobs (``brief_*``, ``support_threshold``, ``min_score``, ...);
      default the store's, or ``Settings.from_env()`` without a store.
    - ``timeline``: make timelines rather than briefings (an input dict's ``timeline`` overrides it).
    """
    settings = settings or (store.settings if store is not None else Settings.from_env())
    return BriefingChain(Briefer(build_answerer(settings, store=store, llm=llm)), timeline=timeline)


__all__ = ["BriefingChain", "BriefingInput", "briefing_chain", "parse_briefing_input"]
