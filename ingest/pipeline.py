"""Ingest pipeline: load → clean → split → embed → store, idempotent per document.

Chunk ids derive from content (source name, span and text), so re-ingesting an unchanged
document adds nothing. For a changed document the new chunks are written first and the stale
ones deleted after: a crash in between leaves extra chunks that the next ingest removes, never a
document with no chunks.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from langchain_core.documents import Document

from ingest.clean import clean_pages, clean_text
from ingest.load import SUPPORTED_SUFFIXES, LoadError, load_file
from ingest.metadata import content_hash, document_date, document_title
from ingest.split import Chunk, page_span, split_text
from rag.config import Settings
from rag.dates import parse_iso
from rag.store import Store


@dataclass
class DocumentResult:
    source: str
    added: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class IngestReport:
    """What one ingest run did."""

    documents: list[DocumentResult] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(d.added for d in self.documents)

    @property
    def unchanged(self) -> int:
        return sum(d.unchanged for d in self.documents)

    @property
    def removed(self) -> int:
        return sum(d.removed for d in self.documents)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"{len(self.documents)} documents: {self.added} chunks added, {self.unchanged} unchanged, "
                f"{self.removed} removed; {len(self.errors)} errors")


@dataclass(frozen=True)
class PreparedDocument:
    source: str
    title: str
    text: str
    chunks: list[Chunk]
    metadata: dict[str, Any]
    # paged documents (PDF): (offset in ``text``, page number) where each page starts; () otherwise
    page_starts: tuple[tuple[int, int], ...] = ()

    def chunk_pages(self, chunk: Chunk) -> dict[str, int]:
        """``{"page": first}`` plus ``"page_end"`` when the chunk runs onto later pages; {} if unpaged."""
        span = page_span(self.page_starts, chunk.start, chunk.end)
        if span is None:
            return {}
        return {"page": span[0]} if span[0] == span[1] else {"page": span[0], "page_end": span[1]}

    def documents(self) -> list[Document]:
        """The chunks as LangChain ``Document``s, as the store keeps them: ``id`` the content-derived
        chunk id (:func:`chunk_id`; a repeated one is kept once), ``page_content`` heading + body
        (:attr:`~ingest.split.Chunk.display_text`), ``metadata`` the document's plus the chunk's
        ``chunk_index``, ``n_chunks``, span (``start``, ``end``), ``heading``, ``body_offset`` and pages."""
        out: list[Document] = []
        seen: set[str] = set()
        for n, chunk in enumerate(self.chunks):
            cid = chunk_id(self.source, self.metadata["content_hash"], chunk)
            if cid in seen:
                continue
            seen.add(cid)
            out.append(Document(
                id=cid, page_content=chunk.display_text,
                metadata={**self.metadata, "chunk_index": n, "n_chunks": len(self.chunks), "start": chunk.start,
                          "end": chunk.end, "heading": chunk.heading,
                          "body_offset": len(chunk.display_text) - len(chunk.body), **self.chunk_pages(chunk)}))
        return out


def chunk_id(source: str, doc_hash: str, chunk: Chunk) -> str:
    """Content-derived id: same document version and span → same id (so re-ingest adds nothing)."""
    key = f"{source}\x00{doc_hash}\x00{chunk.start}\x00{chunk.display_text}".encode("utf-8")
    return hashlib.sha256(key).hexdigest()[:32]


def prepare_document(path: Path, settings: Settings, source: str | None = None) -> PreparedDocument:
    """Load, clean, describe and split one file. Raises LoadError for unusable input."""
    loaded = load_file(path, settings.max_file_bytes)
    page_starts: list[tuple[int, int]] = []
    if loaded.pages is not None:
        text, page_starts = clean_pages(loaded.pages)
    else:
        text = clean_text(loaded.text)
    if not text.strip():
        raise LoadError(path, "no text left after removing boilerplate")
    source = source or path.name
    title = (loaded.html_title or "").strip() or document_title(text, fallback=path.stem)
    date = parse_iso(loaded.html_date) if loaded.html_date else None
    date = date or document_date(text)
    meta: dict[str, Any] = {
        "source": source,
        # where the file was read from (absolute): folder sync (ingest/watch.py) tells by it which
        # stored documents came from a watched folder; not part of chunk ids
        "path": os.path.abspath(path),
        "title": title,
        "content_hash": content_hash(text),
        "format": loaded.format,
        "date": date.iso if date else "",
        "date_label": date.label if date else "",
    }
    if date:
        meta["month"] = date.month
        meta["day"] = date.day
        if date.year:
            meta["year"] = date.year
            meta["date_ord"] = date.ordinal
    chunks = split_text(text, settings.chunk_size, settings.chunk_overlap, title=title,
                        min_chunk_chars=settings.min_chunk_chars)
    return PreparedDocument(source, title, text, chunks, meta, tuple(page_starts))


def iter_files(paths: Iterable[Path]) -> Iterable[tuple[Path, LoadError | None]]:
    """Files under ``paths`` (directories walked, hidden files skipped), with an error for missing paths."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, None
        elif p.exists() or p.is_symlink():
            yield p, None
        else:
            yield p, LoadError(p, "no such file or directory")


@dataclass
class _Plan:
    """What writing one document means: its chunk ids, the chunks not yet stored, the stale ids."""

    source: str
    ids: list[str]
    new: list[Document]
    stale: list[str]
    # kept chunks whose stored "path" differs from this file's (the same text read from elsewhere):
    # (id, its metadata with the new path)
    moved: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Ingestor:
    """Ingests files into a Store; ``run`` is safe to repeat."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or store.settings

    def run(self, paths: Iterable[Path | str], progress: bool = True,
            on_file: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Ingest every file under ``paths``; per-file problems are collected, never raised."""
        from tqdm import tqdm

        report = IngestReport()
        files = list(iter_files(Path(p) for p in paths))
        seen: dict[str, Path] = {}
        pending: list[tuple[Path, _Plan]] = []
        bar = tqdm(files, desc="ingesting", unit="file", disable=not progress, file=sys.stderr)
        for i, (path, error) in enumerate(bar):
            bar.set_postfix_str(path.name[:30])
            if on_file:
                on_file(i, len(files), path.name)
            if error is not None:
                report.errors.append(error)
                continue
            if path.name in seen and seen[path.name].resolve() != path.resolve():
                report.errors.append(LoadError(path, f"another file named {path.name} ({seen[path.name]}) was ingested in this run; rename one"))
                continue
            seen[path.name] = path
            try:
                doc = prepare_document(path, self.settings)
            except LoadError as exc:
                report.errors.append(exc)
                continue
            pending.append((path, self._plan(doc)))
            if sum(len(plan.new) for _, plan in pending) >= self.settings.embed_batch_size * 4:
                self._flush(pending, report)
        self._flush(pending, report)
        bar.close()
        return report

    # Documents are embedded together, a few batches' worth of new chunks at a time, because one
    # encode call per document (7-8 chunks each in the seeds) left the encoder's batches mostly
    # empty: the ingest path ran at 1/1.69 of the raw encoder (benchmarks/results.md, section 1).
    def _flush(self, pending: list[tuple[Path, "_Plan"]], report: IngestReport) -> None:
        if not pending:
            return
        texts = [d.page_content for _, plan in pending for d in plan.new]
        try:
            vectors = self._embed(texts)
        except Exception as exc:  # e.g. out of memory: every pending document is reported, none half-written
            report.errors.extend(LoadError(path, f"could not embed: {exc}") for path, _ in pending)
            pending.clear()
            return
        written: list[tuple[Path, _Plan, list[list[float]]]] = []
        offset = 0
        for path, plan in pending:
            written.append((path, plan, vectors[offset : offset + len(plan.new)]))
            offset += len(plan.new)
        for group in self._write_groups(written):
            # One Chroma write for the whole group's new chunks: a write per document cost 28 ms each,
            # 1.1 s of a 6.6 s ingest of 39 documents (profiled), against 0.5 s for the same chunks in
            # three writes. A write is all-or-nothing, so each document is still absent or complete.
            together = len(group) > 1
            if together:
                try:
                    self.store.add_documents([d for _, plan, _ in group for d in plan.new],
                                             embeddings=[v for _, _, own in group for v in own])
                except Exception:  # write them one by one, so that one bad document fails alone
                    together = False
            for path, plan, own in group:
                try:
                    report.documents.append(self._write(plan, own, added=together))
                except Exception as exc:  # a store failure on one file must not lose the others
                    report.errors.append(LoadError(path, f"could not store: {exc}"))
        pending.clear()

    def _write_groups(self, written: list[tuple[Path, "_Plan", list[list[float]]]]):
        """Consecutive whole documents whose new chunks fit in one Chroma write."""
        limit = max(1, self.store.max_batch_size)
        group: list[tuple[Path, _Plan, list[list[float]]]] = []
        rows = 0
        for item in written:
            n = len(item[1].new)
            if group and rows + n > limit:
                yield group
                group, rows = [], 0
            group.append(item)
            rows += n
        if group:
            yield group

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.store.embed_documents(texts)

    def _plan(self, doc: PreparedDocument) -> "_Plan":
        stored = {c.id: c.metadata for c in self.store.get(where={"source": doc.source}, with_text=False)}
        existing = set(stored)
        chunks = doc.documents()
        ids = [str(d.id) for d in chunks]
        new = [d for d in chunks if d.id not in existing]
        path = doc.metadata.get("path")
        moved = [(cid, {**stored[cid], "path": path}) for cid in ids
                 if path and cid in stored and stored[cid].get("path") != path]
        return _Plan(doc.source, ids, new, sorted(existing - set(ids)), moved)

    def _write(self, plan: "_Plan", vectors: list[list[float]], added: bool = False) -> DocumentResult:
        """New chunks first (one write per document where Chroma's batch limit allows; skipped when
        ``added`` already), then the stale ones go."""
        if not added:
            step = max(1, self.store.max_batch_size)
            for s in range(0, len(plan.new), step):
                self.store.add_documents(plan.new[s : s + step], embeddings=vectors[s : s + step])
        self.store.delete(plan.stale)
        self.store.update_metadata([m[0] for m in plan.moved], [m[1] for m in plan.moved])
        return DocumentResult(plan.source, added=len(plan.new), unchanged=len(plan.ids) - len(plan.new),
                              removed=len(plan.stale))

    def remove(self, source: str) -> int:
        """Delete every chunk of document ``source``; returns how many were removed."""
        ids = [c.id for c in self.store.get(where={"source": source}, with_text=False)]
        self.store.delete(ids)
        return len(ids)


__all__ = ["Ingestor", "IngestReport", "prepare_document", "chunk_id", "SUPPORTED_SUFFIXES"]
