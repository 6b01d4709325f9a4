import pytest

from rag.config import Settings
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


def test_compound_questions_are_split_into_parts_that_keep_their_names():
    from rag.retrieve import question_parts

    assert question_parts("Where did Lavrov meet Ryzhenkov?") == ["Where did Lavrov meet Ryzhenkov?"]
    assert question_parts("Which charter did Lavrov discuss in Brest, and what did he say about nuclear weapons?") == [
        "Which charter did Lavrov discuss in Brest", "what did he say about nuclear weapons? Lavrov Brest"]
    assert question_parts("Who chaired the meeting; who dissented?")[1].startswith("who dissented")
    # a part may start with a preposition after "and" ...
    assert question_parts("From what date did he decide, and at which memorial did he lay flowers?") == [
        "From what date did he decide", "at which memorial did he lay flowers?"]
    assert len(question_parts("Who won the election, and with what share of the vote?")) == 2
    # ... but after a bare comma a preposition starts a relative clause, not a new part
    assert len(question_parts("Who was Chair at the September 2016 meeting, at which Powell voted with the majority?")) == 1


def test_each_part_of_a_compound_question_gets_a_passage(seed_store):
    # the Brest meeting (000) and the 25th-anniversary declaration (004) are in different documents
    r = Retriever(seed_store).run("Where did Lavrov meet Ryzhenkov, and what did he and Makei adopt on the 25th anniversary of relations?")
    assert {"000_e3a7af6ccd77722d.txt", "004_d4300b7bd3a6ac4d.txt"} <= set(sources(r))


def test_at_most_max_per_source_passages_of_one_document(seed_store):
    capped = Retriever(seed_store, seed_store.settings.with_(max_per_source=1)).run("Lavrov visit to Minsk")
    assert len(set(sources(capped))) == len(sources(capped)) == seed_store.settings.top_k
    # with one document only the cap gives way: the list is still full
    one = Retriever(seed_store, seed_store.settings.with_(max_per_source=1)).run(
        "Lavrov visit", Filters(sources=("002_e0b109478491a41f.txt",)))
    assert len(one.passages) == min(seed_store.settings.top_k, len(seed_store.get(where={"source": "002_e0b109478491a41f.txt"})))


def test_lexical_search_is_the_bm25_half_and_holds_every_stored_chunk(seed_store):
    retriever = Retriever(seed_store)
    assert sorted(c.id for c in retriever.lexical_chunks()) == sorted(c.id for c in seed_store.get(with_text=False))
    hits = retriever.lexical_search("Ryzhenkov Brest", k=3)
    assert 0 < len(hits) <= 3 and all(score > 0 for _, score in hits)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
    assert any("Ryzhenkov" in chunk.text for chunk, _ in hits)


def test_bm25_tokens_keep_numbers_whole():
    import Stemmer

    from rag.retrieve import bm25_tokenize

    vocab = set(bm25_tokenize(["Lowered to 0 to 1/4 percent; 2-1/4 to 2-1/2; $1.5 billion; 3 documents; 25th; 1,000"],
                              Stemmer.Stemmer("english")).vocab)
    # bm25s's default pattern drops every one-character token: "0", "1/4" and "3" were invisible
    assert {"0", "1/4", "2-1/4", "2-1/2", "1.5", "3", "25th", "1,000", "document"} <= vocab
    assert "4" not in vocab and "1" not in vocab  # a fraction is not its digits


def test_a_range_written_with_one_digit_numbers_is_found_by_bm25(tmp_path):
    from ingest.pipeline import Ingestor
    from rag.store import Store

    docs = tmp_path / "docs"
    docs.mkdir()
    # the same sentence but for the range: only the numbers tell these documents apart
    for name, rng in (("a.txt", "1/4 to 1/2"), ("b.txt", "0 to 1/4"), ("c.txt", "2-1/4 to 2-1/2"), ("d.txt", "1-1/2 to 1-3/4")):
        (docs / name).write_text(f"Statement {name[0]}\n\nThe Committee decided to set the target range for the "
                                 f"federal funds rate to {rng} percent.\n", encoding="utf-8")
    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="")
    store = Store(settings)
    assert Ingestor(store, settings).run([docs], progress=False).ok
    retriever = Retriever(store, settings)
    for query, expected in (("target range of 0 to 1/4 percent", "b.txt"), ("range 2-1/4 to 2-1/2 percent", "c.txt")):
        hits = retriever.lexical_search(query, k=4)
        assert hits[0][0].metadata["source"] == expected
        assert hits[0][1] > hits[1][1]  # a real margin, not a tie broken by order
