"""Store reads against a real Chroma store on disk."""
from __future__ import annotations

from rag.store import Store


def test_get_pages_through_every_chunk(seed_store, monkeypatch):
    everything = seed_store.get()
    assert len(everything) == seed_store.count() > 7
    monkeypatch.setattr(Store, "GET_PAGE", 7)  # force many pages, with a short last one
    paged = seed_store.get()
    assert [c.id for c in paged] == [c.id for c in everything]
    assert all(c.text and c.metadata.get("source") for c in paged)


def test_get_by_ids_in_pages_keeps_the_filter(seed_store, monkeypatch):
    ids = [c.id for c in seed_store.get(with_text=False)]
    monkeypatch.setattr(Store, "GET_PAGE", 4)
    source = seed_store.get(ids=ids[:1])[0].metadata["source"]
    got = seed_store.get(ids=ids, where={"source": source}, with_text=False)
    assert got and {c.metadata["source"] for c in got} == {source}
    assert len(got) == sum(1 for c in seed_store.get(with_text=False) if c.metadata["source"] == source)
