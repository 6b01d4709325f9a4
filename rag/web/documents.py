"""The Documents tab's handlers: list the stored documents, ingest uploads, remove a document.

Each returns the table, the two document dropdowns (removal, chat filter) and a note, refreshed.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from rag.web.context import AppContext
from rag.web.render import error_text, md_escape, status
from rag.web.uploads import ingest_uploads


def document_rows(ctx: AppContext) -> list[list[Any]]:
    """One table row per stored document: source, title, date, chunks."""
    return [[s.source, s.title, s.date_label or s.date or "", s.chunks] for s in ctx.sources()]


class DocumentHandlers:
    """Bound to one app's store (``ctx``)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def refresh_documents(self, selected: list[str] | None = None):
        try:
            rows = document_rows(self.ctx)
            names = [r[0] for r in rows]
            note = f"{len(rows)} documents in the store." if rows else "The store is empty: upload documents below."
            keep = [s for s in (selected or []) if s in names]  # a removed document leaves the filter
            return (rows, gr.update(choices=names, value=None), gr.update(choices=names, value=keep), md_escape(note))
        except Exception as exc:
            msg = error_text(exc)
            return [], gr.update(choices=[]), gr.update(choices=[]), status(msg)

    def upload(self, files: list[str] | None, selected: list[str] | None, progress=gr.Progress()):
        if not files:
            return (gr.update(),) * 5 + ("",)
        paths = [str(f) for f in (files if isinstance(files, list) else [files])]
        try:
            store = self.ctx.store
            progress(0, desc="ingesting")
            result = ingest_uploads(store, self.ctx.settings, paths,
                                    on_file=lambda i, n, name: progress((i, n), desc=f"ingesting {name}"))
        except Exception as exc:
            msg = error_text(exc)
            gr.Warning(msg)
            return (gr.update(),) * 5 + (status(msg),)
        lines = [f"**Ingested:** {md_escape(result.summary)}"]
        lines += [f"- ✓ added {md_escape(name)}" for name in result.added]
        lines += [f"- ✗ rejected {md_escape(name)}: {md_escape(reason)}" for name, reason in result.rejected]
        if result.rejected:
            gr.Warning(f"{len(result.rejected)} file(s) rejected: see the list below the upload box.")
        rows, remove_dd, sources_dd, note = self.refresh_documents(selected)
        return rows, remove_dd, sources_dd, note, None, "\n".join(lines)

    def remove(self, source: str | None, selected: list[str] | None):
        from ingest.pipeline import Ingestor

        if not source:
            gr.Warning("Choose a document to remove.")
            return (gr.update(),) * 4 + (status("Choose a document to remove."),)
        try:
            n = Ingestor(self.ctx.store, self.ctx.settings).remove(source)
        except Exception as exc:
            msg = error_text(exc)
            gr.Warning(msg)
            return (gr.update(),) * 4 + (status(msg),)
        rows, remove_dd, sources_dd, note = self.refresh_documents(selected)
        msg = f"Removed {source} ({n} chunks)." if n else f"No document named {source} in the store."
        return rows, remove_dd, sources_dd, note, status(msg, ok=bool(n))
