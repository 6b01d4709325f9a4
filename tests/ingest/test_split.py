from pathlib import Path

from ingest.clean import clean_text
from ingest.split import split_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_spans_are_exact_and_cover_the_text():
    text = clean_text((SEEDS / "004_d4300b7bd3a6ac4d.txt").read_text(encoding="utf-8"))
    chunks = split_text(text, 700, 120)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.body
        assert len(c.body) <= 700
    # every sentence-ending word of the article appears in some chunk
    assert "his ally Vladimir Putin." in chunks[-1].body


def test_chunks_end_at_sentence_boundaries():
    text = clean_text((SEEDS / "004_d4300b7bd3a6ac4d.txt").read_text(encoding="utf-8"))
    for c in split_text(text, 700, 120):
        assert c.body.rstrip()[-1] in ".?!”\"’:)" or c.body.rstrip().endswith("...")


def test_quotes_keep_their_speaker_heading():
    text = clean_text((SEEDS / "003_303e7899af01f908.txt").read_text(encoding="utf-8"))
    chunks = split_text(text, 700, 120)
    lie = next(c for c in chunks if "outright lie" in c.body)
    assert lie.heading.startswith("Sergey Lavrov")
    assert "Sergey Lavrov" in lie.display_text
    ukraine = next(c for c in chunks if "sanctions list against a number of Ukrainian officials" in c.body)
    assert ukraine.heading.startswith("Vladimir Makei")
    assert "Ukraine’s joining sanctions" in ukraine.heading


def test_overlap_between_consecutive_chunks():
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = split_text(text, 300, 80)
    assert len(chunks) > 3
    assert any(a.end > b.start for a, b in zip(chunks, chunks[1:]))


def test_page_span_maps_a_chunk_to_its_first_and_last_page():
    from ingest.split import page_span

    starts = [(0, 1), (30, 2), (100, 5)]  # pages 3-4 kept no text
    assert page_span(starts, 0, 30) == (1, 1)  # the end is exclusive
    assert page_span(starts, 0, 31) == (1, 2)
    assert page_span(starts, 30, 60) == (2, 2)
    assert page_span(starts, 50, 140) == (2, 5)
    assert page_span(starts, 120, 130) == (5, 5)
    assert page_span([], 0, 10) is None


def test_a_chunk_too_small_to_say_anything_joins_its_neighbour():
    # a title and dateline standing alone before a heading, as press releases start
    text = ("Agency issues statement\nMarch 21, 2018\n\nFor release at 2:00 p.m. EDT\n\n"
            + " ".join(f"The committee decided matter number {i} today." for i in range(30)))
    plain = split_text(text, 300, 60)
    assert plain[0].body == "Agency issues statement\nMarch 21, 2018"  # what the splitter alone gives
    chunks = split_text(text, 300, 60, min_chunk_chars=100)
    assert chunks[0].body.startswith("Agency issues statement") and "matter number 0 " in chunks[0].body
    assert all(len(c.body) >= 100 for c in chunks)
    for c in chunks:
        assert text[c.start:c.end] == c.body
    # a short last piece of a section joins the chunk before it, under the same heading
    text = "Heading\n\n" + " ".join(f"Sentence number {i} is here." for i in range(20)) + "\n\nNext part\n\nTail."
    chunks = split_text(text, 300, 60, min_chunk_chars=100)
    assert chunks[-1].body.endswith("Tail.") and all(len(c.body) >= 100 for c in chunks)
    # a document that is one short chunk stays one chunk
    assert [c.body for c in split_text("Only this.", 300, 60, min_chunk_chars=100)] == ["Only this."]
