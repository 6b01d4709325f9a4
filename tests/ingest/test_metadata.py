from pathlib import Path

import pytest

from ingest.clean import clean_text
from ingest.metadata import document_date, document_title
from rag.dates import DocDate, find_dates, parse_iso

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
EXPECTED = {
    "000_e3a7af6ccd77722d.txt": ("Lavrov Visit to Belarus Underlines Common Unity in Belarus-Russia Union State", "--11-22"),
    "001_f63a187ba6a0d519.txt": ("Press release on Foreign Minister Sergey Lavrov’s visit to the Republic of Belarus", "2020-11-26"),
    "002_e0b109478491a41f.txt": ("Lavrov goes to Belarus to discuss counteracting the West", "2023-01-12"),
    "003_303e7899af01f908.txt": ("Highlights Of Lukashenko And Russian Foreign Minister Lavrov’s Meeting", "--11-26"),
    "004_d4300b7bd3a6ac4d.txt": ("Diplomatic isolation continues: Latest political developments in the Republic of Belarus", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_title_and_date(name):
    text = clean_text((SEEDS / name).read_text(encoding="utf-8"))
    title, date = EXPECTED[name]
    assert document_title(text, fallback=name) == title
    found = document_date(text)
    assert (found.iso if found else None) == date


def test_year_is_never_invented():
    d = find_dates("met on Nov. 22 in Brest")[0][1]
    assert d.year is None and d.iso == "--11-22" and d.label == "22 November (year unknown)" and d.ordinal is None


def test_date_forms():
    assert [d.iso for _, d in find_dates("On November 25-26, 2020 and 19 January 2023 and 2021-03-04")] == [
        "2020-11-25", "2023-01-19", "2021-03-04"]
    assert find_dates("26 November 202018:51")[0][1] == DocDate(11, 26, 2020)


def test_parse_iso_round_trip():
    for iso in ("2020-11-26", "--11-22"):
        assert parse_iso(iso).iso == iso
    assert parse_iso("garbage") is None and parse_iso("") is None
