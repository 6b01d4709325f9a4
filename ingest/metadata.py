"""Document metadata: title and date from the cleaned text, plus a content hash.

The date rules themselves (month names, date patterns, :class:`DocDate`) live in :mod:`rag.dates`,
shared with retrieval, the verifier and timelines.
"""
from __future__ import annotations

import hashlib

from rag.dates import DocDate, find_dates, is_dateline

DATELINE_CHARS = 600  # a document's own date sits near its top


def document_date(text: str) -> DocDate | None:
    """The document's own date: the first date in its opening lines, if any."""
    dates = find_dates(text[:DATELINE_CHARS])
    return dates[0][1] if dates else None


def document_title(text: str, fallback: str) -> str:
    """First line that reads like a title (not a bare dateline), else ``fallback``."""
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if is_dateline(line):
            continue
        words = line.split()
        if len(words) <= 25 and not line.endswith((".", "”", '"')):
            return line
        break
    return fallback


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
