"""Store: the persistent Chroma collection (local directory or a `chroma run` server).

Similarity search and text writes go through LangChain's Chroma vector store; paged reads,
pre-embedded writes and metadata updates through chromadb's public collection API (LangChain has
none for them). Chunks carry their document metadata and their character span. Everything the rest
of the code needs from Chroma is here.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlparse

from rag.config import Settings
from rag.embed import DEFAULT_ENCODER, LEGACY_ENCODER, EncoderError, LazyEmbeddings

if TYPE_CHECKING:  # chromadb and LangChain load on first Store(), not on import
    from chromadb import ClientAPI, Collection
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings


class StoreError(RuntimeError):
    """The store cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class SourceInfo:
    source: str
    title: str
    date: str | None
    date_label: str | None
    chunks: int
    content_hash: str


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str  # heading line (if any) + body, as embedded and shown to the model
    metadata: dict[str, Any]

    @property
    def body(self) -> str:
        """The exact passage from the cleaned document (without the heading context line)."""
        return self.text[int(self.metadata.get("body_offset", 0)) :]


def document_order(chunks: Iterable[StoredChunk]) -> list[StoredChunk]:
    """``chunks`` in the order they stand in their document (by ``chunk_index``; a chunk without
    one counts as 0; the sort is stable). :meth:`Store.chunks_of` is this over one document."""
    return sorted(chunks, key=lambda c: c.metadata.get("chunk_index", 0))


class Store:
    """One Chroma collection (cosine space) holding every chunk of every document."""

    # Chroma's write path is not safe for concurrent writers within one process.
    _write_lock = threading.Lock()
    GET_PAGE = 10_000  # rows per Chroma get (see ``get``)

    def __init__(self, settings: Settings, create: bool = True,
                 embeddings: Callable[[str], Embeddings] = LazyEmbeddings) -> None:
        """Open (or, with ``create``, make) the store that ``settings`` name.

        ``embeddings`` builds the embedding model from the encoder name the collection records
        (default: the bundled encoder, loaded on first use). It is a factory rather than a model
        because the encoder is only known once the collection is open; a caller may wrap the
        default, e.g. to count encode calls, but must embed with that same encoder.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        self.settings = settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        # set before connecting, so that an error can name the server or directory
        self.location = settings.chroma_url or str(settings.store_dir)
        try:
            client: ClientAPI
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1", port=url.port or 8000, ssl=url.scheme == "https", settings=chroma_settings
                )
            else:
                path = Path(settings.store_dir)
                _check_store_dir(path, create)
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self.client = client
            self.collection, self.encoder = _open_collection(client, settings)
            self.embeddings = embeddings(self.encoder)  # the default loads the model when something is embedded
            # LangChain's store over the same client and collection (it looks the collection up by
            # name): similarity search and text writes go through it, raw reads and pre-embedded
            # writes through our own handle (LangChain has no public call for either).
            self.vectors = Chroma(client=client, collection_name=settings.collection, embedding_function=self.embeddings)
            self.collection.count()
        except StoreError:
            raise
        except EncoderError as exc:  # the collection records an encoder this version does not know
            raise StoreError(f"the store at {self.location} cannot be used: {exc}") from exc
        except Exception as exc:  # chromadb raises many types for a broken store or server
            raise StoreError(_explain(exc, self.location)) from exc
        self.version = 0  # bumped on every write in this process (for caches such as BM25)

    @functools.cached_property
    def max_batch_size(self) -> int:
        """The most records Chroma accepts in one write."""
        try:
            return int(self.client.get_max_batch_size())
        except Exception:  # older clients or servers without the call
            return 1000

    # --- embedding (always with the encoder that built this store)
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embeddings.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embeddings.embed_query(text)

    # --- reads
    def count(self) -> int:
        return int(self.collection.count())

    def get(self, where: dict[str, Any] | None = None, ids: list[str] | None = None, with_text: bool = True) -> list[StoredChunk]:
        """Chunks matching ``where`` / ``ids`` (all when neither is given), fetched in pages.

        Paged because Chroma's SQLite backend refuses one query for every row past ~32k chunks
        ("too many SQL variables"; measured in benchmarks/results.md at 100k chunks).
        """
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        out: list[StoredChunk] = []
        offset = 0
        while True:
            if ids is not None:  # an explicit id list is fetched in slices of the same size
                page_ids = ids[offset : offset + self.GET_PAGE]
                if not page_ids:
                    break
                res = self.collection.get(ids=page_ids, where=where, include=include)
            else:
                res = self.collection.get(where=where, include=include, limit=self.GET_PAGE, offset=offset)
            docs = res.get("documents") or [""] * len(res["ids"])
            out.extend(StoredChunk(i, d or "", m or {}) for i, d, m in zip(res["ids"], docs, res["metadatas"]))
            if ids is None and len(res["ids"]) < self.GET_PAGE:
                break
            offset += self.GET_PAGE
        return out

    def chunks_of(self, source: str) -> list[StoredChunk]:
        """Every chunk of the document ``source``, in document order (:func:`document_order`); [] when none."""
        return document_order(self.get(where={"source": source}))

    def sources(self) -> list[SourceInfo]:
        """One row per stored document, sorted by source name."""
        by_source: dict[str, list[dict[str, Any]]] = {}
        for chunk in self.get(with_text=False):
            by_source.setdefault(chunk.metadata.get("source", "?"), []).append(chunk.metadata)
        rows = []
        for source, metas in sorted(by_source.items()):
            m = metas[0]
            rows.append(SourceInfo(source, m.get("title", source), m.get("date") or None, m.get("date_label") or None,
                                   len(metas), m.get("content_hash", "")))
        return rows

    def dense_search(self, embedding: list[float], k: int, where: dict[str, Any] | None = None) -> list[tuple[StoredChunk, float]]:
        """Top ``k`` chunks by cosine similarity (1 - cosine distance)."""
        if self.count() == 0:
            return []
        hits = self.vectors.similarity_search_by_vector_with_relevance_scores(embedding, k=k, filter=where)
        return [(StoredChunk(doc.id or "", doc.page_content, dict(doc.metadata)), 1.0 - float(dist)) for doc, dist in hits]

    # --- writes
    def add_documents(self, documents: list[Document], embeddings: list[list[float]] | None = None) -> None:
        """Write ``documents`` (LangChain ``Document``s whose ``id`` is the chunk id, as
        :meth:`ingest.pipeline.PreparedDocument.documents` makes them); same id → replaced. With
        ``embeddings`` (one per document, in order) the vectors are stored as given, not re-encoded."""
        if not documents:
            return
        if any(not d.id for d in documents):
            raise ValueError("every Document written to the store needs an id (its chunk id)")
        ids = [str(d.id) for d in documents]
        texts = [d.page_content for d in documents]
        metadatas = [dict(d.metadata) for d in documents]
        with self._write_lock:
            if embeddings is None:
                self.vectors.add_texts(texts=texts, metadatas=metadatas, ids=ids)
            else:
                if len(embeddings) != len(documents):
                    raise ValueError(f"{len(embeddings)} embeddings for {len(documents)} documents")
                self.collection.upsert(ids=ids, documents=texts, metadatas=metadatas, embeddings=embeddings)
            self.version += 1

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._write_lock:
            self.vectors.delete(ids=ids)
            self.version += 1

    def update_metadata(self, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Set the whole metadata of stored chunks ``ids``; their text and vectors stay."""
        if not ids:
            return
        step = max(1, self.max_batch_size)
        with self._write_lock:
            for s in range(0, len(ids), step):
                self.collection.update(ids=ids[s : s + step], metadatas=metadatas[s : s + step])
            self.version += 1


ENCODER_KEY = "embedding_encoder"  # collection metadata: which encoder embedded the store's vectors


def _open_collection(client: ClientAPI, settings: Settings) -> tuple[Collection, str]:
    """The store's collection, created if needed (recording the encoder), and the encoder it records.

    Vectors of two encoders must never meet in one index: a store built with torch fp32 (before the
    int8 default, so it records nothing) keeps being embedded and queried with torch fp32.
    """
    names = {getattr(c, "name", c) for c in client.list_collections()}  # Collection objects or names by version
    created = settings.collection not in names
    if created:
        client.get_or_create_collection(settings.collection, metadata={"hnsw:space": "cosine",
                                                                       ENCODER_KEY: settings.encoder or DEFAULT_ENCODER})
    # No embedding function on our handle (LangChain opens it the same way): every vector written
    # or queried comes from Store.embeddings, so chromadb's own default model is never loaded.
    collection = client.get_collection(settings.collection, embedding_function=None)
    recorded = (collection.metadata or {}).get(ENCODER_KEY) or LEGACY_ENCODER
    if created:
        return collection, recorded
    if settings.encoder and settings.encoder != recorded:
        raise StoreError(f"the store was embedded with the {recorded} encoder, not {settings.encoder}: drop the "
                         f"encoder setting to use the store's own, or ingest into a new store (--store DIR)")
    return collection, recorded


def _check_store_dir(path: Path, create: bool) -> None:
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} is a file, not a directory: pass --store with a directory")
    if not path.exists():
        if not create:
            raise StoreError(f"no store at {path}: run `rag ingest` first (or pass --store DIR)")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {path}: {exc.strerror}") from None
    if create and not os.access(path, os.W_OK):
        raise StoreError(f"store directory {path} is read-only: fix its permissions or pass --store with a writable directory")


def _explain(exc: Exception, location: str) -> str:
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "connect" in low or "connection" in low:
        return f"cannot reach the Chroma server at {location}: is `chroma run` up? ({text})"
    if "readonly" in low or "read-only" in low or "permission" in low:
        return f"store at {location} is read-only: fix its permissions or pass --store with a writable directory"
    if "database" in low or "malformed" in low or "not a database" in low or "sqlite" in low:
        return (f"store at {location} looks corrupt ({text}): move it aside and run `rag ingest` again "
                "to rebuild it from your documents")
    return f"cannot open the store at {location}: {text}"
