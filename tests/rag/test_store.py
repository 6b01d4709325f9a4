"""Store reads against a real Chroma store on disk."""
from __future__ import annotations

import pytest

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


def test_chunks_of_is_one_document_in_order(seed_store):
    from rag.store import StoredChunk, document_order

    source = "000_e3a7af6ccd77722d.txt"
    chunks = seed_store.chunks_of(source)
    assert len(chunks) > 1 and {c.metadata["source"] for c in chunks} == {source}
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert {c.id for c in chunks} == {c.id for c in seed_store.get(where={"source": source})}
    assert seed_store.chunks_of("no-such-document.txt") == []
    # a chunk without an index counts as 0, and ties keep their order
    loose = [StoredChunk("b", "", {"chunk_index": 1}), StoredChunk("x", "", {}), StoredChunk("a", "", {"chunk_index": 0})]
    assert [c.id for c in document_order(loose)] == ["x", "a", "b"]


# --- which encoder embedded a store


def test_a_new_store_records_the_default_encoder(empty_store):
    assert empty_store.encoder == "onnx-int8"
    assert empty_store.collection.metadata["embedding_encoder"] == "onnx-int8"
    reopened = Store(empty_store.settings, create=False)
    assert reopened.encoder == "onnx-int8"


def _legacy_store(path):
    """A collection as stores were made before the encoder was recorded (torch fp32 vectors)."""
    import chromadb

    from rag.embed import get_embeddings

    client = chromadb.PersistentClient(path=str(path))
    col = client.get_or_create_collection("documents", metadata={"hnsw:space": "cosine"})
    texts = ["Lavrov met Makei in Minsk in November 2020.", "The forum of regions met in Grodno."]
    col.add(ids=["a", "b"], documents=texts, metadatas=[{"source": "a.txt"}, {"source": "b.txt"}],
            embeddings=get_embeddings("torch-fp32").embed_documents(texts))
    return texts


def test_a_store_that_records_no_encoder_is_queried_with_torch_fp32(tmp_path):
    from rag.config import Settings

    texts = _legacy_store(tmp_path / "old")
    store = Store(Settings.from_env(store_dir=tmp_path / "old", chroma_url=""), create=False)
    assert store.encoder == "torch-fp32"
    (best, sim), _ = store.dense_search(store.embed_query(texts[0]), k=2)
    assert best.id == "a" and sim > 0.999  # the same encoder as the stored vector, not int8's ~0.99


def test_naming_another_encoder_than_the_store_records_is_a_clear_error(tmp_path, empty_store):
    from rag.config import Settings
    from rag.store import StoreError

    _legacy_store(tmp_path / "old")
    with pytest.raises(StoreError, match="embedded with the torch-fp32 encoder, not onnx-int8"):
        Store(Settings.from_env(store_dir=tmp_path / "old", chroma_url="", encoder="onnx-int8"))
    with pytest.raises(StoreError, match="embedded with the onnx-int8 encoder, not torch-fp32"):
        Store(empty_store.settings.with_(encoder="torch-fp32"))
    assert empty_store.count() == 0 and empty_store.collection.metadata["embedding_encoder"] == "onnx-int8"


def test_opening_a_store_loads_no_model(seed_store_dir):
    """`rag sources` and `rag remove` need no encoder: it loads on the first embedding."""
    import subprocess
    import sys

    code = ("import rag.embed as e; from rag.config import Settings; from rag.store import Store; "
            f"s = Store(Settings.from_env(store_dir={str(seed_store_dir)!r}, chroma_url=''), create=False); "
            "assert s.sources(); print(e.get_embeddings.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
