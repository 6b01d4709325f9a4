"""rag/dates.py, the one home of month names and year patterns, reads dates as the four copies it
replaced did (ingest/metadata.py, rag/retrieve.py, rag/verify.py twice): each old pattern is kept
here, literally, and must find the same things as the shared one on every seed and eval document."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.metadata import document_date
from rag import dates, verify
from rag.config import PROJECT_ROOT
from rag.dates import DocDate, find_dates, is_dateline
from rag.retrieve import TimeHint

# the patterns as they stood before they moved here
OLD_METADATA_MONTH = (r"(january|february|march|april|may|june|july|august|september|october|november|december"
                      r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
OLD_RETRIEVE_MONTH = (r"\b(January|February|March|April|May|June|July|August|September|October|November|December"
                      r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?")
OLD_RETRIEVE_YEAR = r"\b(19\d\d|20\d\d)\b"
OLD_VERIFY_YEAR = r"(?:19|20)\d\d"
OLD_VERIFY_MONTH_KEY = r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
OLD_VERIFY_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
OLD_VERIFY_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
                     "october", "november", "december"}
OLD_ABBREVIATIONS = "Mr Mrs Ms Dr St No vs Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Gen Col Lt Prof".split()

DOCUMENTS = sorted([*(PROJECT_ROOT / "seeds").glob("*.txt"), *(PROJECT_ROOT / "evals" / "corpora").rglob("*.txt")])


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def test_the_shared_patterns_are_the_old_ones():
    assert len(DOCUMENTS) >= 5, "the seed and eval documents the tests below read are missing"
    assert dates._MONTH_RE == OLD_METADATA_MONTH
    assert rf"\b({dates.MONTH_WORD_TITLE})\b\.?" == OLD_RETRIEVE_MONTH
    assert rf"\b({dates.YEAR})\b" == r"\b((?:19|20)\d\d)\b"
    assert rf"\b({dates.MONTH_STEMS})[a-z]*\.?" == OLD_VERIFY_MONTH_KEY
    assert verify._MONTH_WORD == OLD_VERIFY_MONTH_WORD
    assert verify._MONTHS == OLD_VERIFY_MONTHS
    assert sorted(verify._ABBREVIATIONS) == sorted(OLD_ABBREVIATIONS)  # lookbehinds: their order is moot
    assert {m: dates.MONTHS[m] for m in ("may", "sept", "sep", "december", "dec")} == \
        {"may": 5, "sept": 9, "sep": 9, "december": 12, "dec": 12}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_the_same_dates_years_and_months_are_found_in_each_document(path):
    text = _text(path)
    # years named alone: 1900-2099 in both old copies, as now
    old_years = re.findall(OLD_RETRIEVE_YEAR, text)
    assert re.findall(rf"\b({dates.YEAR})\b", text) == old_years
    assert [y for y in re.findall(r"\b\d{4}\b", text) if re.fullmatch(OLD_VERIFY_YEAR, y)] == \
        [y for y in re.findall(r"\b\d{4}\b", text) if re.fullmatch(dates.YEAR, y)]
    # month words: the retriever's case-sensitive names, the verifier's stems
    assert re.findall(rf"\b({dates.MONTH_WORD_TITLE})\b\.?", text) == re.findall(OLD_RETRIEVE_MONTH, text)
    assert re.findall(rf"\b({dates.MONTH_STEMS})[a-z]*\.?", text.lower()) == re.findall(OLD_VERIFY_MONTH_KEY, text.lower())
    # day+month dates: the old metadata patterns, rebuilt from the old month alternation
    old_day_month = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + OLD_METADATA_MONTH + r"(?:,?\s+(\d{4}))?", re.I)
    assert [m.span() for m in dates.DAY_MONTH.finditer(text)] == [m.span() for m in old_day_month.finditer(text)]
    for line in text.splitlines():
        hint = TimeHint.from_question(line)
        assert hint.years == frozenset(int(y) for y in re.findall(OLD_RETRIEVE_YEAR, line))


# What the seeds' documents are dated as, and how many day+month dates each holds (measured before the
# move, 2026-12-02): a change to any date rule shows here first.
SEED_DATES = {
    "000_e3a7af6ccd77722d.txt": ("--11-22", ["--11-22", "--10-31", "--11-01"]),
    "001_f63a187ba6a0d519.txt": ("2020-11-26", ["2020-11-26", "--11-25"]),
    "002_e0b109478491a41f.txt": ("2023-01-12", ["2023-01-12", "--01-19", "--12-19", "--01-16", "--02-01"]),
    "003_303e7899af01f908.txt": ("--11-26", ["--11-26", "--09-14"]),
    "004_d4300b7bd3a6ac4d.txt": (None, ["--02-24", "--11-20", "--09-28"]),
}


@pytest.mark.parametrize("name", sorted(SEED_DATES))
def test_seed_documents_keep_their_dates(name):
    text = _text(PROJECT_ROOT / "seeds" / name)
    doc_date, found = SEED_DATES[name]
    assert getattr(document_date(text), "iso", None) == doc_date
    assert [d.iso for _, d in find_dates(text)] == found


def test_datelines():
    assert is_dateline("Thursday, 12 January 2023")
    assert is_dateline("November 25-26, 2020")
    assert not is_dateline("Lavrov met Makei on 26 November 2020")
    assert DocDate(1, 12, 2023).label == "12 January 2023" and DocDate(9, 3).label == "3 September (year unknown)"
