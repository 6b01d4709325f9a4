"""Export: answers and whole conversations as Markdown (``rag ask --markdown`` and the app's download).

One answer is its question as a heading, the answer text with its ``[n]`` marks as written, then a
"Sources" list with one entry per cited passage number: title, date, source file, page (PDF) and the
quoted passage. Only the question is flattened to one line (a heading cannot span lines); answer and
passages are kept as they are.
"""
from __future__ import annotations

from typing import Any, Iterable

from rag.answer import page_label


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _quote(text: str) -> str:
    lines = str(text).strip().splitlines() or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def _code(text: str) -> str:
    text = _one_line(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def source_entry(citation: Any) -> str:
    """``- **[n]** Title — date — `source` — p. N`` and the passage as a blockquote under it."""
    c = citation
    parts = [_one_line(c.title or c.source), _one_line(getattr(c, "date_label", None) or c.date or "no date"),
             _code(c.source)]
    pages = page_label(getattr(c, "page", None), getattr(c, "page_end", None))
    if pages:
        parts.append(pages)
    quote = "\n".join("  " + line for line in _quote(c.text).splitlines())
    return f"- **[{int(c.n)}]** " + " — ".join(parts) + "\n\n" + quote


def answer_as_markdown(question: str, answer: Any, level: int = 2) -> str:
    """One answer as Markdown: ``## question``, the answer with its marks, ``### Sources``.

    ``answer`` is a :class:`rag.answer.Answer` (anything with ``answer`` and ``citations``). Each
    citation number is listed once, in order, even if several citations share a number.
    """
    h = "#" * max(1, min(level, 5))
    out = [f"{h} {_one_line(question) or '(no question)'}", "", str(answer.answer).strip()]
    seen: set[int] = set()
    entries = []
    for c in sorted(answer.citations, key=lambda c: int(c.n)):
        if int(c.n) in seen:
            continue
        seen.add(int(c.n))
        entries.append(source_entry(c))
    if entries:
        out += ["", f"{h}# Sources", ""]
        out.append("\n\n".join(entries))
    return "\n".join(out) + "\n"


def conversation_as_markdown(turns: Iterable[tuple[str, Any]], title: str = "Conversation") -> str:
    """Every turn of a conversation, ``(question, answer)`` in order, under one ``# title``."""
    parts = [f"# {_one_line(title)}"]
    for question, answer in turns:
        parts.append(answer_as_markdown(question, answer, level=2).rstrip("\n"))
    return "\n\n".join(parts) + "\n"


__all__ = ["answer_as_markdown", "conversation_as_markdown", "source_entry"]
