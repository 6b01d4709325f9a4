"""The Briefing tab's handler: a cited briefing or timeline, shown, offered as Markdown, with its cards."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import gradio as gr

from rag.web.cards import source_cards
from rag.web.context import AppContext
from rag.web.render import briefing_markdown, error_text, slug, status

ANCHOR = "bsrc"  # the briefing's source cards: #bsrc-1, #bsrc-2, …


class BriefingHandlers:
    """Bound to one app: its lazy model and store (``ctx``) and its download directory."""

    def __init__(self, ctx: AppContext, downloads: str) -> None:
        self.ctx = ctx
        self.downloads = downloads

    def briefing(self, topic: str, timeline: bool, whole: bool, progress=gr.Progress()):
        topic = (topic or "").strip()
        if not topic and not whole and not timeline:
            gr.Warning("Enter a topic, or tick “whole collection”.")
            return gr.update(), gr.update(), gr.update(), status("Enter a topic, or tick “whole collection”.")
        subject = None if whole else (topic or None)
        try:
            briefer = self.ctx.briefer()
            progress(0, desc="gathering passages")

            def report(msg: str) -> None:
                m = re.match(r"\[(\d+)/(\d+)\]", msg)
                if m:
                    progress((int(m.group(1)) - 1, int(m.group(2))), desc=msg)
                else:
                    progress(None, desc=msg)

            result = (briefer.timeline(subject, progress=report) if timeline
                      else briefer.briefing(subject, progress=report))
        except Exception as exc:
            msg = error_text(exc)
            gr.Warning(msg)
            return gr.update(), gr.update(), gr.update(), status(msg)
        numbers = {c.n for c in result.citations}
        shown = briefing_markdown(result.markdown, ANCHOR, numbers)
        out_dir = Path(tempfile.mkdtemp(dir=self.downloads))
        kind = "timeline" if timeline else "briefing"
        path = out_dir / f"{kind}-{slug(subject or 'collection')}.md"
        path.write_text(result.markdown, encoding="utf-8")
        cards = source_cards(self.ctx.store, result.citations, ANCHOR) if result.citations else ""
        return (shown, gr.update(value=str(path), visible=True), cards,
                status(f"{kind.capitalize()} ready: {len(result.citations)} sources.", ok=True))
