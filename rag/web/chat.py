"""The Chat tab's handlers: take a question, stream its answer with provisional then cited sources,
start a new conversation, export the conversation as Markdown."""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import gradio as gr

from rag.web.cards import folded, retrieved_cards, source_cards, source_group, sources_panel
from rag.web.context import AppContext
from rag.web.params import filters
from rag.web.render import answer_markdown, error_text, md_escape, slug, status, timings_html

WAITING = "… *reading the passages*"


def fresh_conversation() -> dict[str, list]:
    """One browser session's conversation: history, rendered messages, source cards, exported turns."""
    # turns: (question, answer) for the Markdown export (answers without their passages)
    return {"history": [], "display": [], "cards": [], "turns": []}


class ChatHandlers:
    """Bound to one app: its lazy model and store (``ctx``) and its download directory."""

    def __init__(self, ctx: AppContext, downloads: str) -> None:
        self.ctx = ctx
        self.downloads = downloads

    def accept(self, message: str, conv: dict):
        """Show the question at once (not queued); the answer step then waits for the model."""
        conv = conv or fresh_conversation()
        question = (message or "").strip()
        if not question:
            gr.Warning("Type a question first.")
            return gr.update(), "", gr.update()
        # the chatbot's own pending bubble and the queue position show while this waits for the model
        return conv["display"] + [{"role": "user", "content": answer_markdown(question)}], question, ""

    def chat(self, pending: str, conv: dict, sources: list[str], date_from: str, date_to: str,
             top_k: float) -> Iterator[tuple]:
        from rag.answer import Answer, Citation, Retrieved

        conv = conv or fresh_conversation()
        question = (pending or "").strip()
        if not question:
            yield gr.update(), conv, gr.update(), gr.update(), ""
            return
        display = conv["display"] + [{"role": "user", "content": answer_markdown(question)},
                                     {"role": "assistant", "content": WAITING}]
        yield display, conv, gr.update(), "", ""
        turn = len(conv["history"]) // 2 + 1
        anchor = f"src-{turn}"
        try:
            chosen = filters(sources, date_from, date_to)
            answerer = self.ctx.answerer()
            raw = ""
            final = None
            for event in answerer.stream(question, list(conv["history"]), chosen, int(top_k or 0) or None):
                if isinstance(event, Answer):
                    final = event
                    break
                if isinstance(event, Retrieved):
                    if event.passages:  # none: the refusal follows at once
                        found = [Citation.from_passage(n, p) for n, p in enumerate(event.passages, start=1)]
                        group = source_group(turn, question, retrieved_cards(found, f"ret-{turn}"),
                                             "retrieved, answer being written")
                        yield display, conv, sources_panel([group] + folded(conv["cards"])), "", ""
                    continue
                raw += str(event)
                display[-1] = {"role": "assistant", "content": answer_markdown(raw) + " ▍"}
                yield display, conv, gr.update(), "", ""
            if final is None:
                raise RuntimeError("the answer chain ended without an answer")
        except Exception as exc:  # shown in the page, never as a traceback
            msg = error_text(exc)
            gr.Warning(msg)
            display[-1] = {"role": "assistant", "content": "⚠ " + md_escape(f"Could not answer: {msg}")}
            conv = {**conv, "display": display}
            # the provisional cards go: no answer will cite them
            yield display, conv, sources_panel(conv["cards"]), status(msg), ""
            return
        display[-1] = {"role": "assistant", "content": _answer_content(final, anchor)}
        cards = source_group(turn, question, source_cards(self.ctx.store, final.citations, anchor))
        conv = {
            "history": conv["history"] + [{"role": "user", "content": question},
                                          {"role": "assistant", "content": final.answer}],
            "display": display,
            "turns": list(conv.get("turns", [])) + [(question, replace(final, passages=[], raw=""))],
            "cards": [cards] + folded(conv["cards"]),
        }
        yield display, conv, sources_panel(conv["cards"]), "", ""

    def new_conversation(self):
        return [], fresh_conversation(), sources_panel([]), "", ""

    def export_conversation(self, conv: dict):
        """The conversation so far as a Markdown file behind the download button (hidden when empty)."""
        from rag.export import conversation_as_markdown

        turns = (conv or {}).get("turns") or []
        if not turns:
            return gr.update(value=None, visible=False)
        out_dir = Path(tempfile.mkdtemp(dir=self.downloads))
        path = out_dir / f"conversation-{slug(turns[0][0])}.md"
        path.write_text(conversation_as_markdown(turns), encoding="utf-8")
        return gr.update(value=str(path), visible=True)


def _answer_content(final, anchor: str) -> str:
    """The verified answer's message: citations linked to its cards, a note on dropped sentences, timings."""
    numbers = {c.n for c in final.citations}
    content = answer_markdown(final.answer, anchor, numbers)
    dropped = getattr(final, "dropped", None) or []
    if dropped and not final.refused:
        content += f"\n\n*({len(dropped)} unsupported sentence{'s' if len(dropped) != 1 else ''} removed)*"
    timings = timings_html(final.timings)
    if timings:
        content += "\n\n" + timings
    return content
