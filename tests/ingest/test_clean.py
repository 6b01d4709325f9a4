from pathlib import Path

import pytest

from ingest.clean import clean_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BOILERPLATE = ["Skip to content", "Support Us", "de-DE1 en-GB1", "Advanced settings", "Latest news", "Must read",
               "You might also like", "Recommended to you", "Photo:", "Read also", "become our patron",
               "ArticlesDiplomatic"]
# (seed, first real sentence start, last real sentence end)
KEEP = {
    "000_e3a7af6ccd77722d.txt": ("Lavrov Visit to Belarus Underlines", "respond with nuclear weapons."),
    "001_f63a187ba6a0d519.txt": ("26 November 2020", "collegiums in Russia in 2021."),
    "002_e0b109478491a41f.txt": ("Lavrov goes to Belarus to discuss counteracting the West", "military forces from the regional group of troops."),
    "003_303e7899af01f908.txt": ("Highlights Of Lukashenko And Russian Foreign Minister", "press service of the MFA of Belarus"),
    "004_d4300b7bd3a6ac4d.txt": ("Diplomatic isolation continues: Latest political developments in the Republic of Belarus", "his ally Vladimir Putin."),
}


@pytest.mark.parametrize("name", sorted(KEEP))
def test_seed_cleaning_drops_boilerplate_and_keeps_article(name):
    cleaned = clean_text((SEEDS / name).read_text(encoding="utf-8"))
    for junk in BOILERPLATE:
        assert junk not in cleaned, f"{junk!r} left in {name}"
    first, last = KEEP[name]
    assert cleaned.lstrip().startswith(first)
    assert cleaned.rstrip().endswith(last)


def test_article_sentences_are_untouched():
    raw = (SEEDS / "003_303e7899af01f908.txt").read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    for para in raw.split("\n\n"):
        para = para.strip().replace("\u00a0", " ")  # the one normalisation: NBSP -> space
        if para.startswith("“") or para.startswith("On "):
            assert para in cleaned


def test_trailer_ends_the_article():
    text = "Title\n\nReal sentence one.\n\nLatest news\n\nOther article headline\n\nMore junk"
    assert clean_text(text) == "Title\n\nReal sentence one.\n"


def test_line_in_article_mentioning_support_is_kept():
    text = "Lavrov confirmed support for the reform.\n\nSupport Us\n"
    assert clean_text(text) == "Lavrov confirmed support for the reform.\n"


def test_chrome_is_told_by_its_shape_not_by_one_site_s_words():
    from ingest.clean import clean_text

    text = "A Title\n\nThe Committee met on Tuesday.\n\nVladimir Makei\n\nHe spoke at length.\n\nShare this\nPrint view\n"
    out = clean_text(text)
    assert "Vladimir Makei" in out and "He spoke at length." in out  # a heading with text after it stays
    assert "Print view" not in out and "Share this" not in out  # short unpunctuated lines nothing follows go
    assert "Donate today to keep us independent!" not in clean_text("Body text here.\nDonate today to keep us independent!\n")


def test_clean_pages_marks_where_each_kept_page_starts():
    from ingest.clean import clean_pages

    pages = ["Annual report\n\nThe board met four times.\nShare",  # "Share" is chrome
             "",  # a blank page
             "Photo: archive",  # nothing left after cleaning
             "Staffing took most of the year.\nRead also: other news",
             "The reservoir was inspected on 14 March."]
    text, starts = clean_pages(pages)
    assert text == clean_text("\n\n".join(p for p in pages if p))  # the same text as without pages
    assert [page for _, page in starts] == [1, 4, 5]
    assert [text[offset:].split("\n")[0] for offset, _ in starts] == [
        "Annual report", "Staffing took most of the year.", "The reservoir was inspected on 14 March."]


def test_clean_pages_stops_at_a_trailer_like_clean_text():
    from ingest.clean import clean_pages

    pages = ["The board met four times.", "Latest news\nSomething else", "More links"]
    text, starts = clean_pages(pages)
    assert text == "The board met four times.\n"
    assert starts == [(0, 1)]


def test_clean_pages_never_changes_the_text_to_keep_pages():
    from ingest.clean import clean_pages

    # a truncated duplicate of the next line is dropped by clean_text; across a page boundary the page
    # marker stands between them, so the pages are given up rather than the text changed
    pages = ["Intro text here.\nArticlesThe long title of this special article on water...",
             "The long title of this special article on water, in full\n\nBody text."]
    text, starts = clean_pages(pages)
    assert text == clean_text("\n\n".join(pages))
    assert "ArticlesThe" not in text
    assert starts == []
