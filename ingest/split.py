"""Split: cut a cleaned document into overlapping, sentence-bounded chunks that keep their heading.

A chunk cut off from its heading loses who is speaking (an interview or a press digest puts quotes
under headings naming the speaker, then sub-headings ending in a colon naming the topic), so each chunk records the heading path above it; the store
embeds and shows ``heading + body`` while the exact body span in the cleaned text is kept for
citations. Sentence-aware splitting itself is LangChain's RecursiveCharacterTextSplitter.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.dates import is_dateline

# Paragraph, line, sentence end, clause, word: the splitter tries these in order.
_SEPARATORS = [r"\n\n+", r"\n", r"(?<=[.!?…])[”\"’»)]?\s+(?=[A-Z“\"«(])", r"(?<=[;:])\s+", r"\s+"]


@dataclass(frozen=True)
class Chunk:
    body: str  # exact text of cleaned[start:end]
    start: int
    end: int
    heading: str  # "" or "Level-1 heading — level-2 heading"

    @property
    def display_text(self) -> str:
        """What is embedded, searched and shown to the model: heading line, then the body."""
        return f"{self.heading}\n{self.body}" if self.heading else self.body


def _is_heading(block: str) -> bool:
    if "\n" in block.strip():
        return False
    line = block.strip()
    words = line.split()
    if not words or len(words) > 14:
        return False
    if is_dateline(line):
        return False
    return not line.endswith((".", ",", ";", "”", '"', "»", "’"))


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for m in re.finditer(r"\n\s*\n", text):
        if text[pos : m.start()].strip():
            spans.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    return spans


def _merge_small(chunks: list[Chunk], text: str, min_chars: int) -> list[Chunk]:
    """``chunks`` (in text order) with each body under ``min_chars`` joined to a neighbour: the one
    before it in its section, else the next in its section, else the next section's first (a title
    and dateline standing alone before the first heading), else the one before.

    A passage of a title and a dateline ("Federal Reserve issues FOMC statement / March 21, 2018")
    or of a paragraph's last sentence says almost nothing on its own, yet it matches a question's
    words (the date) and takes one of the few places in the prompt. Neighbours are contiguous or
    overlapping, so the joined body is still the exact span ``text[start:end]``; it keeps the heading
    of its section's part (the first chunk's when it spans two). (Hand-written: LangChain's splitters
    have no minimum size.)"""
    out = list(chunks)
    i = 0
    while len(out) > 1 and i < len(out):
        c = out[i]
        if len(c.body) >= min_chars:
            i += 1
            continue
        j = i - 1 if i > 0 and out[i - 1].heading == c.heading else i + 1 if i + 1 < len(out) else i - 1
        a, b = out[min(i, j)], out[max(i, j)]
        heading = a.heading if a.heading == b.heading or a is c else b.heading
        out[min(i, j):max(i, j) + 1] = [Chunk(text[a.start:b.end], a.start, b.end, heading)]
        i = min(i, j)
    return out


def split_text(text: str, chunk_size: int, chunk_overlap: int, title: str | None = None,
               min_chunk_chars: int = 0) -> list[Chunk]:
    """Chunks of ``text`` with spans; headings (other than the title line) become chunk context.
    A chunk under ``min_chunk_chars`` is joined to a neighbour (see _merge_small)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    h1 = h2 = ""
    sections: list[tuple[str, int, int]] = []  # heading, start, end (merged runs of paragraphs)
    for start, end in _paragraphs(text):
        block = text[start:end]
        if _is_heading(block):
            line = block.strip()
            if title and line == title.strip():
                continue
            if line.endswith(":"):  # a heading ending in a colon introduces what follows: a sub-heading
                h2 = line.rstrip(":")
            else:
                h1, h2 = line, ""
            continue
        heading = " — ".join(h for h in (h1, h2) if h)
        if sections and sections[-1][0] == heading:
            sections[-1] = (heading, sections[-1][1], end)
        else:
            sections.append((heading, start, end))

    chunks: list[Chunk] = []
    for heading, s_start, s_end in sections:
        section = text[s_start:s_end]
        for doc in splitter.create_documents([section]):
            body = doc.page_content
            local = doc.metadata["start_index"]
            if local < 0:  # splitter could not locate it (should not happen); search ourselves
                local = section.find(body)
            start = s_start + local
            chunks.append(Chunk(body=body, start=start, end=start + len(body), heading=heading))
    return _merge_small(chunks, text, min_chunk_chars) if min_chunk_chars else chunks


def page_span(page_starts: list[tuple[int, int]] | tuple[tuple[int, int], ...], start: int, end: int) -> tuple[int, int] | None:
    """(first page, last page) of the span ``[start, end)`` of a paged text, given ``(offset, page)``
    for the start of each page in order (from :func:`ingest.clean.clean_pages`); None when unpaged."""
    if not page_starts:
        return None
    offsets = [offset for offset, _ in page_starts]
    first = max(bisect.bisect_right(offsets, start) - 1, 0)
    last = max(bisect.bisect_left(offsets, max(end, start + 1)) - 1, first)
    return page_starts[first][1], page_starts[last][1]
