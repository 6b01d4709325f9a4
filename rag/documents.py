"""LangChain view of retrieval: passages as ``Document``s, and :class:`HybridRetriever`, a ``BaseRetriever``.

The project's own code works on :class:`rag.retrieve.Passage` (a stored chunk and its scores);
LangChain code works on ``Document``. The conversion lives here, in one place, both ways, so that
a Document from this retriever carries everything a Passage does and a Document from any other
retriever can be answered over (rag/chain.py).
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from rag.config import Settings
from rag.retrieve import Filters, Passage, Retrieval, Retriever
from rag.store import Store, StoredChunk

# metadata a Document gets on top of the stored chunk's own; dropped again when it becomes a Passage
SCORE_KEYS = ("score", "dense", "bm25")


def to_document(passage: Passage) -> Document:
    """``passage`` as a Document: ``page_content`` is the chunk as embedded and shown to the model
    (heading line, then the passage; ``metadata["body_offset"]`` is where the passage starts).

    ``metadata`` holds everything stored with the chunk (``source``, ``title``, ``date`` as ISO
    ``YYYY-MM-DD`` or ``--MM-DD``, ``date_label``, ``chunk_index``, ``heading``, ``start``/``end``,
    ``path``, ...) plus ``chunk_id``, ``score`` (fused), ``dense`` (cosine similarity, None when
    only BM25 found it), ``bm25`` (None when only the dense side found it), and ``page``/``page_end``
    (PDF pages, 1-based; None for other formats), always present so that every Document has the
    same keys to read.
    """
    meta = {"page": None, "page_end": None, **passage.meta,
            "chunk_id": passage.chunk.id, "score": passage.score, "dense": passage.dense, "bm25": passage.bm25}
    return Document(page_content=passage.chunk.text, metadata=meta, id=passage.chunk.id)


def to_documents(passages: Iterable[Passage]) -> list[Document]:
    """:func:`to_document` of each passage, in order."""
    return [to_document(p) for p in passages]


def to_passage(doc: Document) -> Passage:
    """A Document (from this or any retriever) as a Passage the answer chain can cite.

    The chunk id is ``metadata["chunk_id"]``, else ``doc.id``, else a hash of the text: citations
    need a stable id. Metadata without ``source`` or ``title`` is cited as "?" / "untitled".
    """
    meta = {k: v for k, v in doc.metadata.items() if k not in SCORE_KEYS and k != "chunk_id"}
    chunk_id = str(doc.metadata.get("chunk_id") or doc.id or hashlib.sha1(doc.page_content.encode()).hexdigest())
    score = doc.metadata.get("score")
    return Passage(StoredChunk(chunk_id, doc.page_content, meta), float(score) if _is_number(score) else 0.0,
                   dense=_number(doc.metadata.get("dense")), bm25=_number(doc.metadata.get("bm25")))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


class HybridRetriever(BaseRetriever):
    """The project's hybrid retriever (dense + BM25, fused by reciprocal rank; see rag/retrieve.py)
    as a LangChain retriever: ``invoke(question)`` returns the ``top_k`` best passages as Documents
    (:func:`to_document`), best first.

    Fields: ``store`` (an open :class:`rag.store.Store`), ``settings`` (default: the store's),
    ``sources`` (source file names to search; empty: all), ``date_from`` / ``date_to`` (``YYYY``,
    ``YYYY-MM`` or ``YYYY-MM-DD``, inclusive; a document without a known year is then left out),
    ``top_k`` (default: ``settings.top_k``). A bad date is a ValueError when the retriever is made.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    store: Store
    settings: Settings | None = None
    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    top_k: int | None = None

    # one Retriever per instance: it caches the BM25 index and the documents' text
    _retriever: Retriever = PrivateAttr()
    _filters: Filters = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._filters = Filters(tuple(self.sources), self.date_from, self.date_to)  # validates the dates
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        self._retriever = Retriever(self.store, self.settings or self.store.settings)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> "HybridRetriever":
        """Open the store ``settings`` name (default: ``Settings.from_env()``: ``RAG_STORE``, ...)
        read-only and retrieve from it; ``fields`` as for the class."""
        settings = settings or Settings.from_env()
        return cls(store=Store(settings, create=False), settings=settings, **fields)

    @property
    def filters(self) -> Filters:
        """The restrictions the fields make, as the project's :class:`rag.retrieve.Filters`."""
        return self._filters

    @property
    def retriever(self) -> Retriever:
        """The project-level retriever underneath (shared with the answer chain built on this one)."""
        return self._retriever

    def retrieval(self, question: str) -> Retrieval:
        """The full result: passages, the best dense similarity (for ``min_score``) and the time."""
        return self._retriever.run(question, self._filters, self.top_k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return to_documents(self.retrieval(query).passages)
