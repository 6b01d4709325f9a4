"""Document metadata: title and date from the cleaned text, plus a content hash.

Dates: ISO ``YYYY-MM-DD`` when the text gives the year; ``--MM-DD`` (ISO 8601 reduced form)
when it gives only day and month. The year is never guessed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
_MONTH_RE = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
# "26 November 2020", "Thursday, 12 January 2023", "on 19 January"
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r"(?:,?\s+(\d{4}))?", re.IGNORECASE)
# "Nov. 22", "November 25-26, 2020"
_MONTH_DAY = re.compile(r"\b" + _MONTH_RE + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{1,2})?(?:,?\s+(\d{4}))?\b", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
DATELINE_CHARS = 600  # a document's own date sits near its top


@dataclass(frozen=True)
class DocDate:
    month: int
    day: int
    year: int | None = None

    @property
    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}" if self.year else f"--{self.month:02d}-{self.day:02d}"

    @property
    def label(self) -> str:
        base = f"{self.day} {MONTH_NAMES[self.month - 1]}"
        return f"{base} {self.year}" if self.year else f"{base} (year unknown)"

    @property
    def ordinal(self) -> int | None:
        """YYYYMMDD for range filters; None when the year is unknown."""
        return self.year * 10000 + self.month * 100 + self.day if self.year else None


def parse_iso(value: str | None) -> DocDate | None:
    """Parse ``YYYY-MM-DD`` or ``--MM-DD`` as produced by :attr:`DocDate.iso`."""
    if not value:
        return None
    m = re.fullmatch(r"(\d{4}|-)-(\d{2})-(\d{2})", value.strip()[:10] if value[0] != "-" else value.strip())
    if not m:
        return None
    year = None if m.group(1) == "-" else int(m.group(1))
    return DocDate(int(m.group(2)), int(m.group(3)), year)


def find_dates(text: str) -> list[tuple[int, DocDate]]:
    """All day+month dates in ``text`` with their offsets, in order of appearance."""
    found: dict[int, DocDate] = {}
    for m in _ISO.finditer(text):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            found[m.start()] = DocDate(mo, d, y)
    for m in _DAY_MONTH.finditer(text):
        d, mo = int(m.group(1)), MONTHS[m.group(2).lower().rstrip(".")]
        if 1 <= d <= 31:
            found.setdefault(m.start(), DocDate(mo, d, int(m.group(3)) if m.group(3) else None))
    for m in _MONTH_DAY.finditer(text):
        mo, d = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(2))
        if 1 <= d <= 31 and not any(abs(m.start() - k) < 4 for k in found):
            found.setdefault(m.start(), DocDate(mo, d, int(m.group(3)) if m.group(3) else None))
    return sorted(found.items())


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
        if _is_dateline(line):
            continue
        words = line.split()
        if len(words) <= 25 and not line.endswith((".", "”", '"')):
            return line
        break
    return fallback


def _is_dateline(line: str) -> bool:
    rest = _DAY_MONTH.sub("", line)
    rest = _MONTH_DAY.sub("", rest)
    rest = re.sub(r"[\d:,.\s]|monday|tuesday|wednesday|thursday|friday|saturday|sunday", "", rest, flags=re.I)
    return len(rest) < 3 and rest != line


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
