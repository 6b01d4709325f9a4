"""The named JSON API functions (``/ask``, ``/brief``, ``/sources``): plain values in, JSON out.

Failures are ``gr.Error``s carrying one line (see :func:`rag.web.render.error_text`), never a traceback.
"""
from __future__ import annotations

import gradio as gr

from rag.web.context import AppContext
from rag.web.params import filters, parse_history, parse_sources
from rag.web.render import error_text


class ApiHandlers:
    """Bound to one app's lazy model and store (``ctx``). Names, parameters and docstrings are the API's."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def ask(self, question: str, history: str = "[]", sources: str = "", date_from: str = "", date_to: str = "",
            top_k: int = 0) -> dict:
        """Answer a question with citations. history: JSON list of {"role","content"}; sources: JSON list or comma-separated."""
        try:
            answer = self.ctx.answerer().run(question, parse_history(history),
                                             filters(parse_sources(sources), date_from, date_to),
                                             int(top_k or 0) or None)
        except Exception as exc:
            raise gr.Error(error_text(exc)) from None
        out = answer.to_json()
        for c_json, c in zip(out.get("citations", []), answer.citations):
            c_json.setdefault("date_label", getattr(c, "date_label", None))
        return out

    def brief(self, topic: str = "", timeline: bool = False, whole: bool = False) -> dict:
        """A cited Markdown briefing (or timeline) on a topic or the whole collection."""
        topic = (topic or "").strip()
        if not topic and not whole and not timeline:
            raise gr.Error("give a topic, whole=True or timeline=True")
        try:
            briefer = self.ctx.briefer()
            subject = None if whole else (topic or None)
            result = briefer.timeline(subject) if timeline else briefer.briefing(subject)
        except Exception as exc:
            raise gr.Error(error_text(exc)) from None
        return result.to_json()

    def list_sources(self) -> list[dict]:
        """Stored documents: source, title, date, date_label, chunks."""
        try:
            return [{"source": s.source, "title": s.title, "date": s.date, "date_label": s.date_label,
                     "chunks": s.chunks} for s in self.ctx.sources()]
        except Exception as exc:
            raise gr.Error(error_text(exc)) from None
