"""Ingest into a real Chroma store on disk with the real embedding model."""
import shutil
from pathlib import Path

from fakes import CountingEmbeddings
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.embed import LazyEmbeddings
from rag.store import Store

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _copy_seeds(dst: Path, names=("001_f63a187ba6a0d519.txt", "003_303e7899af01f908.txt")) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(SEEDS / n, dst / n)
    return dst


def test_reingest_adds_nothing(empty_store, tmp_path):
    docs = _copy_seeds(tmp_path / "docs")
    ing = Ingestor(empty_store)
    first = ing.run([docs], progress=False)
    assert first.ok and first.added > 0 and first.unchanged == 0
    count = empty_store.count()
    second = ing.run([docs], progress=False)
    assert second.added == 0 and second.removed == 0 and second.unchanged == first.added
    assert empty_store.count() == count
    # a fresh process (new client on the same directory) sees the same store
    again = Store(Settings.from_env(store_dir=empty_store.settings.store_dir, chroma_url=""), create=False)
    assert again.count() == count


def test_changed_document_replaces_its_chunks(empty_store, tmp_path):
    docs = _copy_seeds(tmp_path / "docs")
    ing = Ingestor(empty_store)
    ing.run([docs], progress=False)
    target = docs / "001_f63a187ba6a0d519.txt"
    before = {c.id for c in empty_store.get(where={"source": target.name})}
    target.write_text(target.read_text(encoding="utf-8").replace("Minsk", "Brest"), encoding="utf-8")
    report = ing.run([docs], progress=False)
    after = empty_store.get(where={"source": target.name})
    assert report.removed > 0 and report.added > 0
    assert not before & {c.id for c in after}
    assert all("Brest" in c.text or "Minsk" not in c.text for c in after)
    assert len({c.metadata["content_hash"] for c in after}) == 1


def test_bad_files_are_reported_and_the_rest_ingested(empty_store, tmp_path):
    docs = _copy_seeds(tmp_path / "docs", names=("001_f63a187ba6a0d519.txt",))
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(b"\x00\xff" * 100)
    (docs / "table.xlsx").write_bytes(b"PK")
    (docs / "cp1251.txt").write_bytes("Лавров прибыл в Минск на переговоры с Макеем и Лукашенко.".encode("cp1251"))
    ing = Ingestor(empty_store)
    report = ing.run([docs, tmp_path / "missing.txt"], progress=False)
    reasons = {Path(e.path).name: e.reason for e in report.errors}
    assert set(reasons) == {"empty.txt", "binary.txt", "table.xlsx", "missing.txt"}
    assert not report.ok
    stored = {s.source for s in empty_store.sources()}
    assert stored == {"001_f63a187ba6a0d519.txt", "cp1251.txt"}
    assert "Лавров" in empty_store.get(where={"source": "cp1251.txt"})[0].text


def test_bad_input_loses_nothing_already_stored(empty_store, tmp_path):
    docs = _copy_seeds(tmp_path / "docs")
    ing = Ingestor(empty_store)
    ing.run([docs], progress=False)
    count = empty_store.count()
    (docs / "001_f63a187ba6a0d519.txt").write_bytes(b"")  # the file got truncated on disk
    report = ing.run([docs], progress=False)
    assert not report.ok
    assert empty_store.count() == count  # the old version stays until a good one replaces it


def test_remove_document(empty_store, tmp_path):
    docs = _copy_seeds(tmp_path / "docs")
    ing = Ingestor(empty_store)
    ing.run([docs], progress=False)
    n = ing.remove("003_303e7899af01f908.txt")
    assert n > 0
    assert [s.source for s in empty_store.sources()] == ["001_f63a187ba6a0d519.txt"]
    assert ing.remove("003_303e7899af01f908.txt") == 0


def test_seed_metadata_in_store(seed_store):
    rows = {r.source: r for r in seed_store.sources()}
    assert len(rows) == 5
    assert rows["001_f63a187ba6a0d519.txt"].date == "2020-11-26"
    assert rows["000_e3a7af6ccd77722d.txt"].date == "--11-22"
    assert rows["004_d4300b7bd3a6ac4d.txt"].date is None
    chunk = seed_store.get(where={"source": "001_f63a187ba6a0d519.txt"})[0]
    for key in ("title", "content_hash", "start", "end", "chunk_index", "date_label"):
        assert key in chunk.metadata


def test_documents_are_embedded_together_and_each_stored_with_its_own_vectors(tmp_path):
    docs = _copy_seeds(tmp_path / "docs", names=tuple(sorted(p.name for p in SEEDS.glob("*.txt"))))
    counting: list[CountingEmbeddings] = []

    def embeddings(encoder: str) -> CountingEmbeddings:  # the store's own encoder, wrapped
        counting.append(CountingEmbeddings(LazyEmbeddings(encoder)))
        return counting[-1]

    store = Store(Settings.from_env(store_dir=tmp_path / "store", chroma_url=""), embeddings=embeddings)
    report = Ingestor(store).run([docs], progress=False)
    assert report.ok and len(report.documents) == 5
    # the seeds' chunks are fewer than one flush (4 x embed_batch_size): a single encode call
    assert counting[0].document_calls == [report.added] and report.added < store.settings.embed_batch_size * 4
    # every chunk got its own vector: a chunk's text finds itself first
    for chunk in store.get()[::7]:
        best, sim = store.dense_search(store.embed_query(chunk.text), k=1)[0]
        assert best.id == chunk.id and sim > 0.99


def test_documents_of_one_flush_go_to_chroma_in_one_write(empty_store, tmp_path, monkeypatch):
    docs = _copy_seeds(tmp_path / "docs", names=tuple(sorted(p.name for p in SEEDS.glob("*.txt"))))
    writes: list[set[str]] = []
    real = Store.add_documents

    def recording(self, documents, embeddings=None):
        writes.append({d.metadata["source"] for d in documents})
        return real(self, documents, embeddings)

    monkeypatch.setattr(Store, "add_documents", recording)
    report = Ingestor(empty_store).run([docs], progress=False)
    assert report.ok and len(writes) == 1 and len(writes[0]) == 5
    assert empty_store.count() == report.added


def test_a_document_chroma_refuses_fails_alone_when_written_with_others(empty_store, tmp_path, monkeypatch):
    docs = _copy_seeds(tmp_path / "docs", names=tuple(sorted(p.name for p in SEEDS.glob("*.txt"))))
    bad = "003_303e7899af01f908.txt"
    real = Store.add_documents

    def refusing(self, documents, embeddings=None):
        if any(d.metadata["source"] == bad for d in documents):
            raise ValueError("injected: Chroma refused this write")
        return real(self, documents, embeddings)

    monkeypatch.setattr(Store, "add_documents", refusing)
    report = Ingestor(empty_store).run([docs], progress=False)
    assert [Path(e.path).name for e in report.errors] == [bad] and "injected" in str(report.errors[0])
    stored = {s.source for s in empty_store.sources()}
    assert stored == {p.name for p in docs.iterdir()} - {bad}
    assert empty_store.count() == report.added == sum(d.added for d in report.documents)


def test_pdf_chunks_carry_their_page_and_text_chunks_none(pdf_store):
    pdf = pdf_store.chunks_of("water_report.pdf")
    assert [c.metadata["page"] for c in pdf] == [1, 2, 3]
    assert all(isinstance(c.metadata["page"], int) and "page_end" not in c.metadata for c in pdf)
    assert "Olga Varenik" in pdf[2].body and not any("Varenik" in c.body for c in pdf[:2])
    text = pdf_store.get(where={"source": "000_e3a7af6ccd77722d.txt"})
    assert text and not any("page" in c.metadata or "page_end" in c.metadata for c in text)


def test_a_chunk_running_over_pages_records_its_last_page(empty_store, tmp_path):
    from pdfs import write_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "short.pdf", ["Short notes\nThe board met in May.", "The budget was approved.",
                                   "The reservoir was inspected in March."])
    report = Ingestor(empty_store).run([docs], progress=False)
    assert report.ok
    (chunk,) = empty_store.get(where={"source": "short.pdf"})
    assert (chunk.metadata["page"], chunk.metadata["page_end"]) == (1, 3)


def test_reingest_of_pdfs_stored_without_pages(empty_store, tmp_path, monkeypatch):
    """A store built before page numbers: the same chunk ids, so re-ingest adds nothing; the stored
    chunks simply have no page, and answers cite them without one."""
    from fakes import QueuedChatModel
    from pdfs import REPORT_FACT_ANSWER, REPORT_QUESTION, write_report

    from ingest.clean import clean_text
    from rag.answer import Answerer

    docs = tmp_path / "docs"
    docs.mkdir()
    write_report(docs / "water_report.pdf")
    with monkeypatch.context() as m:  # the ingest of old: the pages joined, no page starts
        m.setattr("ingest.pipeline.clean_pages", lambda pages: (clean_text("\n\n".join(p for p in pages if p)), []))
        first = Ingestor(empty_store).run([docs], progress=False)
    assert first.ok and first.added == 3
    assert not any("page" in c.metadata for c in empty_store.get())
    again = Ingestor(empty_store).run([docs], progress=False)
    assert again.ok and (again.added, again.unchanged, again.removed) == (0, 3, 0)
    assert empty_store.count() == 3
    ans = Answerer(empty_store, QueuedChatModel(answers=[REPORT_FACT_ANSWER])).run(REPORT_QUESTION)
    assert not ans.refused and ans.citations
    assert ans.citations[0].page is None and ans.citations[0].page_label is None
    assert ans.to_json()["citations"][0]["page"] is None


def test_a_prepared_document_is_langchain_documents_as_stored(empty_store, tmp_path):
    from ingest.pipeline import chunk_id, prepare_document

    path = _copy_seeds(tmp_path / "docs", names=("001_f63a187ba6a0d519.txt",)) / "001_f63a187ba6a0d519.txt"
    doc = prepare_document(path, empty_store.settings)
    documents = doc.documents()
    assert [d.id for d in documents] == [chunk_id(doc.source, doc.metadata["content_hash"], c) for c in doc.chunks]
    for n, (d, chunk) in enumerate(zip(documents, doc.chunks)):
        assert d.page_content == chunk.display_text and d.metadata["chunk_index"] == n
        assert d.page_content[d.metadata["body_offset"]:] == chunk.body == doc.text[d.metadata["start"]:d.metadata["end"]]
        assert d.metadata["source"] == doc.source and d.metadata["title"] == doc.title
    Ingestor(empty_store).run([path], progress=False)
    stored = {c.id: c for c in empty_store.chunks_of(doc.source)}
    assert set(stored) == {d.id for d in documents}
    for d in documents:  # what the store holds is these Documents, text and metadata
        assert stored[d.id].text == d.page_content and stored[d.id].metadata == d.metadata


def test_add_documents_refuses_a_document_without_id_or_a_vector_count_mismatch(empty_store):
    import pytest
    from langchain_core.documents import Document

    with pytest.raises(ValueError, match="id"):
        empty_store.add_documents([Document(page_content="x", metadata={"source": "a"})], embeddings=[[0.0] * 384])
    with pytest.raises(ValueError, match="2 embeddings for 1 documents"):
        empty_store.add_documents([Document(id="a", page_content="x", metadata={"source": "a"})], embeddings=[[0.0] * 384] * 2)
    assert empty_store.count() == 0  # nothing half-written
