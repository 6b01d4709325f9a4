"""App: the Gradio web interface (Chat, Briefing, Documents) and its named API endpoints.

The entry point of the web app, whose parts live in :mod:`rag.web` (layout, handlers, rendering,
uploads, process singletons, launch). Importing this module neither imports Gradio nor changes the
environment: :func:`build_app`, :func:`serve` and :func:`launch` set the offline environment
(:func:`rag.config.offline_environment`) before Gradio is imported.

Everything runs locally: no analytics, system fonts only, nothing loaded from another host.
Model work (answers, briefings, ingest, removal) shares one queue slot, so requests run one at a
time and the others wait with their queue position shown. Document text is always HTML-escaped
before it reaches the page; document HTML is never rendered.

API (``gradio_client.Client(url).predict(..., api_name="/ask")``):
  * ``/ask``     question, history (JSON list of {"role","content"}), sources (JSON list or
                 comma-separated), date_from, date_to (YYYY[-MM[-DD]]), top_k (0 = default)
                 → the answer JSON (question, answer, refused, citations, timings)
  * ``/brief``   topic, timeline, whole → {topic, briefing, citations}
  * ``/sources`` → [{source, title, date, date_label, chunks}]
"""
from __future__ import annotations

from typing import Any, Callable

from rag.access import is_loopback, parse_auth
from rag.config import Settings, offline_environment
from rag.web.cards import retrieved_cards, source_cards
from rag.web.render import answer_markdown, briefing_markdown, timings_html
from rag.web.server import launch, serve
from rag.web.uploads import UPLOAD_TYPES, UploadResult, ingest_uploads, sanitize_filename


def build_app(settings: Settings, answerer_factory: Callable[[], Any] | None = None):
    """The Gradio Blocks app (:func:`rag.web.layout.build_app`), after the offline environment is set.

    ``answerer_factory`` (called once, lazily) replaces the default model.
    """
    offline_environment()
    from rag.web.layout import build_app as blocks

    return blocks(settings, answerer_factory)


def theme():
    """Default look with system fonts only (no font files fetched from anywhere)."""
    offline_environment()
    from rag.web.page import theme as default_theme

    return default_theme()


__all__ = ["build_app", "serve", "launch", "sanitize_filename", "ingest_uploads", "source_cards", "retrieved_cards",
           "timings_html", "theme", "answer_markdown", "briefing_markdown", "is_loopback", "parse_auth",
           "UPLOAD_TYPES", "UploadResult"]
