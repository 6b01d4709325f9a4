"""Dates, month names, year and number patterns: the one home of every date rule, for ingest/ and rag/ alike.

The bottom layer (see ``[tool.importlinter]`` in pyproject.toml): it imports nothing of the project,
so ingest (document dates, datelines) and rag (time hints in questions, the verifier's month keys,
timelines) read dates by the same rules.

Dates: ISO ``YYYY-MM-DD`` when the text gives the year; ``--MM-DD`` (ISO 8601 reduced form)
when it gives only day and month. The year is never guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# A number as one token with its decimal part or fraction: "1.5", "1/4", "2-1/4" (a whole number and a
# fraction, as rate ranges are written), so that "2-1/4 to 2-1/2" is not read as the digits 1, 2 and 4.
# Shared by retrieval (BM25 tokens) and the verifier (names and numbers).
NUMBER = r"\d+(?:[.,]\d+)?(?:-\d+/\d+|/\d+)?"

MONTH_NAMES: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July", "August",
                                "September", "October", "November", "December")
# The abbreviations a month is written with in the documents ("Nov. 22", "Sept 3"); May has none.
MONTH_ABBREVIATIONS: tuple[str, ...] = ("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sept", "sep", "oct",
                                        "nov", "dec")
# Every lower-case word that names a month → its number (1-12).
MONTHS: dict[str, int] = {
    **{name.lower(): i for i, name in enumerate(MONTH_NAMES, start=1)},
    **{abbr: next(i for i, n in enumerate(MONTH_NAMES, start=1) if n.lower().startswith(abbr))
       for abbr in MONTH_ABBREVIATIONS},
}
# A month as a regex alternation, full names first, then abbreviations ("sept" before "sep", so the
# longer one wins): lower case for IGNORECASE patterns; MONTH_WORD_TITLE is the case-sensitive form.
MONTH_WORD = "|".join([n.lower() for n in MONTH_NAMES] + list(MONTH_ABBREVIATIONS))
MONTH_WORD_TITLE = "|".join([n for n in MONTH_NAMES] + [a.capitalize() for a in MONTH_ABBREVIATIONS])
# The three-letter stem every month's names start with ("nov" for "Nov.", "November"): the verifier
# matches a month as its stem plus any letters.
MONTH_STEMS = "|".join(n[:3].lower() for n in MONTH_NAMES)
# A year named on its own (in a question, as a detail of a claim): 1900-2099. A year inside a written
# date ("26 November 2020", "2020-11-26") is any four digits: that date is as the text writes it.
YEAR = r"(?:19|20)\d\d"
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_MONTH_RE = rf"({MONTH_WORD})\.?"
# "26 November 2020", "Thursday, 12 January 2023", "on 19 January"
DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r"(?:,?\s+(\d{4}))?", re.IGNORECASE)
# "Nov. 22", "November 25-26, 2020"
MONTH_DAY = re.compile(r"\b" + _MONTH_RE + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{1,2})?(?:,?\s+(\d{4}))?\b",
                       re.IGNORECASE)
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


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
    for m in ISO_DATE.finditer(text):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            found[m.start()] = DocDate(mo, d, y)
    for m in DAY_MONTH.finditer(text):
        d, mo = int(m.group(1)), MONTHS[m.group(2).lower().rstrip(".")]
        if 1 <= d <= 31:
            found.setdefault(m.start(), DocDate(mo, d, int(m.group(3)) if m.group(3) else None))
    for m in MONTH_DAY.finditer(text):
        mo, d = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(2))
        if 1 <= d <= 31 and not any(abs(m.start() - k) < 4 for k in found):
            found.setdefault(m.start(), DocDate(mo, d, int(m.group(3)) if m.group(3) else None))
    return sorted(found.items())


_DATELINE_REST = re.compile(r"[\d:,.\s]|" + "|".join(WEEKDAYS), re.IGNORECASE)


def is_dateline(line: str) -> bool:
    """Is ``line`` a bare date ("Thursday, 12 January 2023", "26.11.2020 14:05"), nothing else?
    Such a line is neither a title (ingest.metadata) nor an event (rag.brief's timeline)."""
    rest = DAY_MONTH.sub("", line)
    rest = MONTH_DAY.sub("", rest)
    rest = _DATELINE_REST.sub("", rest)
    return len(rest) < 3 and rest != line
