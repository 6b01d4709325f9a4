"""Source cards: each cited (or retrieved) passage as HTML, in its document's context, all text escaped.

Nothing here imports Gradio.
"""
from __future__ import annotations

import html
import re

from rag.web.render import first_line, log

CONTEXT_CHARS = 280  # text shown around a cited passage in a source card


def document_text(store, source: str) -> str:
    """The cleaned text of ``source`` rebuilt from its chunks (exact offsets; gaps become spaces)."""
    # by start offset; chunks starting at the same offset stay in document order (the sort is stable)
    chunks = sorted(store.chunks_of(source), key=lambda c: int(c.metadata.get("start", 0) or 0))
    doc = ""
    for c in chunks:
        start = c.metadata.get("start")
        if start is None:
            continue
        start = int(start)
        body = c.body
        if start > len(doc):
            doc += " " * (start - len(doc))
        if start + len(body) > len(doc):
            doc = doc[:start] + body
    return doc


def _trim_before(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "…" + (cut[space + 1:] if 0 <= space < 40 else cut)


def _trim_after(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + "…"


def passage_in_context(store, citation, cache: dict | None = None) -> tuple[str, str, str]:
    """(before, passage, after) for a citation: the cited span plus surrounding document text."""
    passage = citation.text or ""
    start, end = getattr(citation, "start", None), getattr(citation, "end", None)
    if start is None or end is None:
        return "", passage, ""
    key = citation.source
    try:
        if cache is not None and key in cache:
            doc = cache[key]
        else:
            doc = document_text(store, citation.source)
            if cache is not None:
                cache[key] = doc
    except Exception:  # the cards are a convenience: fall back to the passage alone
        log.warning("could not rebuild %s for its source card", citation.source, exc_info=True)
        return "", passage, ""
    start, end = int(start), int(end)
    if doc[start:end] != passage.strip() and doc[start:end] != passage:
        return "", passage, ""
    before = re.sub(r"[ \t]{2,}", " ", doc[max(0, start - CONTEXT_CHARS * 2):start]).lstrip()
    after = re.sub(r"[ \t]{2,}", " ", doc[end:end + CONTEXT_CHARS * 2]).rstrip()
    return _trim_before(before, CONTEXT_CHARS), doc[start:end], _trim_after(after, CONTEXT_CHARS)


def _card(c, anchor: str, text_html: str, extra_class: str = "") -> str:
    """One source card: number, title, date, file, page, section, then ``text_html`` (already escaped)."""
    e = html.escape
    heading = getattr(c, "heading", None)
    date_label = getattr(c, "date_label", None) or c.date or "no date"
    pages = getattr(c, "page_label", None)
    return (
        f'<div class="src-card{" " + extra_class if extra_class else ""}" id="{e(anchor)}-{int(c.n)}" '
        f'data-source="{e(c.source)}">'
        f'<div class="src-head"><span class="src-n">[{int(c.n)}]</span>{e(c.title or c.source)}</div>'
        f'<div class="src-meta">{e(date_label)} · <code>{e(c.source)}</code>'
        + (f' · <span class="src-page">{e(pages)}</span>' if pages else "") + "</div>"
        + (f'<div class="src-section">Section: {e(heading)}</div>' if heading else "")
        + f'<p class="src-text">{text_html}</p></div>'
    )


def source_cards(store, citations, anchor: str) -> str:
    """HTML cards, one per citation, with the passage highlighted; all document text escaped."""
    if not citations:
        return '<p class="src-empty">No sources cited.</p>'
    cache: dict[str, str] = {}
    e = html.escape
    parts = []
    for c in citations:
        before, passage, after = passage_in_context(store, c, cache)
        parts.append(_card(c, anchor, f"{e(before)}<mark>{e(passage)}</mark>{e(after)}"))
    return "".join(parts)


def retrieved_cards(citations, anchor: str) -> str:
    """Provisional cards for the passages retrieval found, shown while the model writes; escaped.

    The passage alone, without the document text around it: rebuilding each document costs a store
    read per card, and the model waits for the page update before it writes its first token.
    """
    if not citations:
        return '<p class="src-empty">No passages retrieved.</p>'
    return "".join(_card(c, anchor, html.escape(c.text or ""), "src-retrieved") for c in citations)


def source_group(turn: int, question: str, cards: str, status: str = "") -> str:
    """One answer's sources, open, under a summary naming the answer (and ``status``, if any)."""
    note = f'<span class="src-status"> · {html.escape(status)}</span>' if status else ""
    return (f'<details class="src-turn" open><summary>Answer {turn}: {html.escape(first_line(question))}{note}'
            f'</summary>{cards}</details>')


def folded(groups: list[str]) -> list[str]:
    """Earlier answers' source groups, collapsed (the newest answer's stays open above them)."""
    return [g.replace('<details class="src-turn" open>', '<details class="src-turn">', 1) for g in groups]


def sources_panel(turns: list[str]) -> str:
    """The chat's Sources column: every answer's source group, newest first."""
    if not turns:
        return '<p class="src-empty">Sources cited in answers appear here.</p>'
    return '<div class="src-panel">' + "".join(turns) + "</div>"
