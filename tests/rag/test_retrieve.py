import pytest

from rag.retrieve import Filters, Retriever, TimeHint


def sources(retrieval):
    return [p.meta["source"] for p in retrieval.passages]


def test_hybrid_finds_the_brest_meeting(seed_store):
    r = Retriever(seed_store).run("Where did Lavrov meet Ryzhenkov?")
    assert sources(r)[0] == "000_e3a7af6ccd77722d.txt"
    assert r.passages[0].dense is not None and r.best_dense > 0.3


def test_quote_chunk_is_found_through_its_speaker_heading(seed_store):
    r = Retriever(seed_store).run("What did Sergey Lavrov say about contacts with the Belarusian opposition?")
    assert any("outright lie" in p.chunk.text for p in r.passages[:3])


def test_source_filter(seed_store):
    r = Retriever(seed_store).run("Lavrov visit", Filters(sources=("002_e0b109478491a41f.txt",)))
    assert set(sources(r)) == {"002_e0b109478491a41f.txt"}


def test_date_range_filter_excludes_unknown_years(seed_store):
    r = Retriever(seed_store).run("Lavrov visit to Minsk", Filters(date_from="2023-01-01", date_to="2023-12-31"))
    assert set(sources(r)) == {"002_e0b109478491a41f.txt"}


def test_year_in_question_prefers_that_year(seed_store):
    r = Retriever(seed_store).run("What happened during Lavrov's visit in 2023?")
    assert sources(r)[0] == "002_e0b109478491a41f.txt"


def test_time_hint_parsing():
    h = TimeHint.from_question("What happened in November 2020 and Jan. 2023?")
    assert h.years == {2020, 2023} and h.months == {11, 1}


@pytest.mark.parametrize("bound", ["2024-13", "2023-02-29", "20-01-01", "soon"])
def test_impossible_date_bounds_are_errors_not_empty_filters(bound):
    with pytest.raises(ValueError, match="is not a date"):
        Filters(date_from=bound)
    assert Filters(date_from="2024-02-29", date_to="2024").chroma_where() is not None
