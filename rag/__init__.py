"""rag-briefing: cited answers and briefings over your documents, offline.

The public API, for use from Python and LangChain (README: "Use from LangChain")::

    from rag import HybridRetriever, Settings, Store, briefing_chain, cited_answer_chain, make_llm

Names are imported on first use (module ``__getattr__``), so ``import rag`` stays cheap, and so
does importing any submodule (``rag.config``, ``rag.cli``), which runs this file first: nothing
here loads LangChain, Chroma or a model until one of these names is asked for.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS = {
    "cited_answer_chain": "rag.chain",
    "CitedAnswerChain": "rag.chain",
    "ChainInput": "rag.chain",
    "briefing_chain": "rag.brief_chain",
    "BriefingChain": "rag.brief_chain",
    "BriefingInput": "rag.brief_chain",
    "Briefing": "rag.brief",
    "HybridRetriever": "rag.documents",
    "to_document": "rag.documents",
    "to_documents": "rag.documents",
    "to_passage": "rag.documents",
    "Answer": "rag.answer",
    "Answerer": "rag.answer",
    "build_answerer": "rag.answer",
    "Citation": "rag.answer",
    "REFUSAL_TEXT": "rag.answer",
    "Filters": "rag.retrieve",
    "Settings": "rag.config",
    "offline_environment": "rag.config",
    "Store": "rag.store",
    "make_llm": "rag.llm",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on demand
    from rag.answer import REFUSAL_TEXT, Answer, Answerer, Citation, build_answerer
    from rag.brief import Briefing
    from rag.brief_chain import BriefingChain, BriefingInput, briefing_chain
    from rag.chain import ChainInput, CitedAnswerChain, cited_answer_chain
    from rag.config import Settings, offline_environment
    from rag.documents import HybridRetriever, to_document, to_documents, to_passage
    from rag.llm import make_llm
    from rag.retrieve import Filters
    from rag.store import Store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return list(__all__)  # the public names, not this file's helpers
