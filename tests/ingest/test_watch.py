"""Folder sync (`rag ingest --watch`): a real folder, a real Chroma store, the real embedder."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import ingest.watch as watch_module
from ingest.pipeline import Ingestor, prepare_document
from ingest.watch import is_ignored, sync, watch
from rag.config import Settings
from rag.store import Store

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
KEEP = "001_f63a187ba6a0d519.txt"
GONE = "003_303e7899af01f908.txt"
OTHER = "002_e0b109478491a41f.txt"


def _wait(what: str, predicate, timeout: float = 20.0):
    """Poll ``predicate`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _sources(store: Store) -> set[str]:
    return {s.source for s in store.sources()}


def _ids(store: Store, source: str) -> set[str]:
    return {c.id for c in store.get(where={"source": source}, with_text=False)}


def _n_chunks(path: Path, settings: Settings) -> int:
    return len(prepare_document(path, settings).chunks)


def _old(*paths: Path) -> None:
    """Date files two minutes back: settled long ago."""
    past = time.time() - 120
    for p in paths:
        os.utime(p, (past, past))


def _ingestor(store: Store, **settings: int) -> Ingestor:
    return Ingestor(store, store.settings.with_(**settings))


def test_ignored_names():
    for name in (".x.md.swp", ".hidden.md", "x.md~", "x.swp", "x.md.swx", "x.md.tmp", "x.pdf.part",
                 "x.pdf.crdownload", "#x.md#", ".#x.md"):
        assert is_ignored(f"/docs/{name}"), name
    for name in ("x.md", "report.pdf", "#1 notes.txt", "a~b.txt"):
        assert not is_ignored(f"/docs/{name}"), name


def test_sync_ingests_new_files_and_removes_documents_whose_file_left(empty_store, tmp_path):
    docs, other = tmp_path / "docs", tmp_path / "other"
    (docs / "sub").mkdir(parents=True)
    other.mkdir()
    for name in (KEEP, GONE):
        shutil.copy(SEEDS / name, docs / name)
    shutil.copy(SEEDS / OTHER, other / OTHER)
    ing = _ingestor(empty_store, watch_settle_ms=60_000)
    assert ing.run([docs, other], progress=False).ok  # a plain `rag ingest docs other`
    keep_ids = _ids(empty_store, KEEP)
    gone_chunks = len(_ids(empty_store, GONE))

    (docs / GONE).unlink()  # deleted while nobody watched
    (docs / "new.md").write_text("# Harbour report\n\nThe harbour of Klaipeda reopened in March.\n", encoding="utf-8")
    (docs / "sub" / "nested.txt").write_text("Nested note: the ferry to Kiel runs twice a week.\n", encoding="utf-8")
    (docs / "notes.xlsx").write_text("not a spreadsheet", encoding="utf-8")  # unsupported: silently ignored
    (docs / ".hidden.md").write_text("hidden text", encoding="utf-8")
    (docs / "draft.md~").write_text("an editor backup", encoding="utf-8")
    _old(*[p for p in docs.rglob("*") if p.is_file()])
    (docs / "fresh.md").write_text("Still being written by someone.\n", encoding="utf-8")  # within the settle time

    lines: list[str] = []
    report = sync(docs, ing, on_event=lines.append)
    n_new, n_nested = _n_chunks(docs / "new.md", ing.settings), _n_chunks(docs / "sub" / "nested.txt", ing.settings)
    assert sorted(lines) == sorted([f"added new.md ({n_new} chunk{'s' * (n_new != 1)})",
                                    f"added nested.txt ({n_nested} chunk{'s' * (n_nested != 1)})",
                                    f"removed {GONE} ({gone_chunks} chunks)"])
    assert sorted(report.added) == ["nested.txt", "new.md"] and report.removed == [GONE]
    assert report.updated == [] and report.unchanged == 1 and report.errors == []
    assert report.deferred == [str(docs / "fresh.md")]
    # the other folder's document is not this folder's business; the unchanged one kept its chunks
    assert _sources(empty_store) == {KEEP, OTHER, "new.md", "nested.txt"}
    assert _ids(empty_store, KEEP) == keep_ids
    assert {c.metadata["path"] for c in empty_store.get(where={"source": "nested.txt"})} == {str(docs / "sub" / "nested.txt")}
    count = empty_store.count()

    # again: nothing to do
    lines.clear()
    again = sync(docs, ing, on_event=lines.append)
    assert lines == [] and again.unchanged == 3 and again.added == again.removed == [] and empty_store.count() == count
    # a plain ingest of the same folder names the documents alike: nothing duplicated
    plain = ing.run([docs], progress=False)
    assert plain.added == _n_chunks(docs / "fresh.md", ing.settings)  # only the file sync left for later
    assert [Path(e.path).name for e in plain.errors] == ["draft.md~", "notes.xlsx"]  # unsupported for it
    assert empty_store.count() == count + plain.added


def test_sync_refuses_a_second_file_of_a_stored_name(empty_store, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.md").write_text("Version A: the bridge opened in 2019.\n", encoding="utf-8")
    (b / "x.md").write_text("Version B: the bridge closed in 2021.\n", encoding="utf-8")
    _old(a / "x.md", b / "x.md")
    ing = _ingestor(empty_store)
    assert ing.run([a], progress=False).ok
    ids = _ids(empty_store, "x.md")
    lines: list[str] = []
    report = sync(b, ing, on_event=lines.append)
    assert lines == [f"error: {b / 'x.md'}: another file named x.md ({a / 'x.md'}) is already stored; rename one"]
    assert report.errors and _ids(empty_store, "x.md") == ids
    assert "Version A" in empty_store.get(where={"source": "x.md"})[0].text


def test_watch_follows_the_folder(empty_store, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in (KEEP, GONE):
        shutil.copy(SEEDS / name, docs / name)
    settle = 700  # ms; the partial write below pauses well within it
    ing = _ingestor(empty_store, watch_settle_ms=settle, watch_debounce_ms=100)
    assert ing.run([docs], progress=False).ok
    keep_ids = _ids(empty_store, KEEP)
    gone_chunks = len(_ids(empty_store, GONE))
    (docs / GONE).unlink()

    lines: list[str] = []
    stop = threading.Event()
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(report=watch([docs], ing, stop_event=stop, on_event=lines.append)),
                              daemon=True)
    thread.start()
    try:
        # start-up sync: the document whose file went while nobody watched is removed, the other kept
        _wait("the deleted file's document to go", lambda: GONE not in _sources(empty_store))
        assert _sources(empty_store) == {KEEP} and _ids(empty_store, KEEP) == keep_ids

        # a new file
        a = docs / "a.txt"
        shutil.copy(SEEDS / KEEP, a)
        n_a = _n_chunks(a, ing.settings)
        assert n_a > 1
        _wait("a.txt", lambda: len(_ids(empty_store, "a.txt")) == n_a)
        first_ids = _ids(empty_store, "a.txt")

        # changed: the old chunks are replaced, not added to
        a.write_text(a.read_text(encoding="utf-8").replace("Minsk", "Brest"), encoding="utf-8")
        new_hash = prepare_document(a, ing.settings).metadata["content_hash"]
        _wait("a.txt's new version", lambda: {c.metadata["content_hash"] for c in empty_store.get(where={"source": "a.txt"})} == {new_hash})
        changed = empty_store.get(where={"source": "a.txt"})
        assert len(changed) == n_a and not {c.id for c in changed} & first_ids
        assert any("Brest" in c.text for c in changed) and not any("Minsk" in c.text for c in changed)

        # renamed: the old source goes, the new one comes, nothing twice
        b = docs / "b.txt"
        a.rename(b)
        _wait("the rename", lambda: _sources(empty_store) == {KEEP, "b.txt"})
        assert len(_ids(empty_store, "b.txt")) == n_a and empty_store.count() == len(keep_ids) + n_a
        assert {c.metadata["path"] for c in empty_store.get(where={"source": "b.txt"})} == {str(b)}

        # deleted
        b.unlink()
        _wait("b.txt to go", lambda: _sources(empty_store) == {KEEP})

        # written in two parts: never ingested half-written
        c = docs / "c.md"
        with c.open("w", encoding="utf-8") as f:
            f.write("# Ferry timetable\n\nThe first half of the note says the ferry leaves at nine.")
            f.flush()
            time.sleep(0.15)
            f.write(" The second half says it returns at five, completing the note.\n")
        n_c = _n_chunks(c, ing.settings)
        _wait("c.md", lambda: _ids(empty_store, "c.md"))
        assert "returns at five" in empty_store.get(where={"source": "c.md"})[0].text

        # swap, backup, temporary and unsupported files are ignored; a finished download is ingested
        for name in (".c.md.swp", "c.md~", "#c.md#", "d.md.tmp", "notes.xlsx"):
            (docs / name).write_text("Half-written junk that must never be stored.\n", encoding="utf-8")
        part = docs / "e.md.part"
        part.write_text("# Download\n\nThe downloaded report on river levels.\n", encoding="utf-8")
        part.rename(docs / "e.md")
        _wait("e.md", lambda: _ids(empty_store, "e.md"))
        n_e = _n_chunks(docs / "e.md", ing.settings)

        # a folder moved in brings its files; moved out, takes their documents with it
        outside = tmp_path / "outside" / "sub"
        outside.mkdir(parents=True)
        (outside / "f.md").write_text("# Lock\n\nThe canal lock was rebuilt in 2011.\n", encoding="utf-8")
        _old(outside / "f.md")
        outside.rename(docs / "sub")
        _wait("f.md from the folder moved in", lambda: _ids(empty_store, "f.md"))
        n_f = len(_ids(empty_store, "f.md"))
        (docs / "sub").rename(outside)
        _wait("f.md to go with its folder", lambda: not _ids(empty_store, "f.md"))

        # broken files get one error line each; what is stored stays (c.md truncated on disk)
        c_ids = _ids(empty_store, "c.md")
        (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
        (docs / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
        c.write_bytes(b"")
        _wait("three error lines", lambda: sum(line.startswith("error: ") for line in lines) >= 3)
        assert _sources(empty_store) == {KEEP, "c.md", "e.md"} and _ids(empty_store, "c.md") == c_ids
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()

    errors = sorted(line for line in lines if line.startswith("error: "))
    assert len(errors) == 3
    assert errors[0].startswith(f"error: {docs / 'broken.docx'}: not a readable Word document: ")
    assert errors[1].startswith(f"error: {docs / 'broken.pdf'}: unreadable PDF: ")
    assert errors[2] == f"error: {c}: empty file"
    n_gone = f"{gone_chunks} chunks"
    assert sorted(line for line in lines if not line.startswith("error: ")) == sorted([
        f"removed {GONE} ({n_gone})",
        f"added a.txt ({n_a} chunks)", f"updated a.txt ({n_a} chunks)",
        f"removed a.txt ({n_a} chunks)", f"added b.txt ({n_a} chunks)", f"removed b.txt ({n_a} chunks)",
        f"added c.md ({n_c} chunk{'s' * (n_c != 1)})",  # once: the half-written version never went in
        f"added e.md ({n_e} chunk{'s' * (n_e != 1)})",
        f"added f.md ({n_f} chunk{'s' * (n_f != 1)})", f"removed f.md ({n_f} chunk{'s' * (n_f != 1)})",
    ])
    report = result["report"]
    assert report.added == ["a.txt", "b.txt", "c.md", "e.md", "f.md"] and report.updated == ["a.txt"]
    assert report.removed == [GONE, "a.txt", "b.txt", "f.md"] and len(report.errors) == 3
    assert report.summary() == "5 added, 1 updated, 4 removed, 1 unchanged; 3 errors"


def test_cli_watch_takes_folders_only(cli, tmp_path):
    f = tmp_path / "one.md"
    f.write_text("text", encoding="utf-8")
    r = cli("ingest", "--watch", f, "--store", tmp_path / "store")
    assert r.exit_code == 2 and f"--watch takes folders, not {f}" in r.stderr
    r = cli("ingest", "--watch", "--store", tmp_path / "store")
    assert r.exit_code == 2 and "--watch needs one or more folders" in r.stderr
    assert not (tmp_path / "store").exists()


def test_cli_watch_stops_on_ctrl_c_with_a_summary(cli, tmp_path, monkeypatch):
    import _thread

    docs, store_dir = tmp_path / "docs", tmp_path / "store"
    docs.mkdir()
    (docs / "a.md").write_text("# Dam\n\nThe dam on the river was finished in 1998.\n", encoding="utf-8")
    _old(docs / "a.md")
    stored, done = threading.Event(), threading.Event()
    real_sync = watch_module._Syncer.sync

    def observed_sync(self, *args, **kwargs):  # the real start-up sync, telling the test when it is done
        real_sync(self, *args, **kwargs)
        if "a.md" in self.report.added:
            stored.set()

    monkeypatch.setattr(watch_module._Syncer, "sync", observed_sync)

    def interrupt_when_stored() -> None:
        stored.wait(timeout=30)
        if not done.is_set():
            _thread.interrupt_main()  # what Ctrl-C does

    helper = threading.Thread(target=interrupt_when_stored, daemon=True)
    helper.start()
    try:
        r = cli("ingest", "--watch", docs, "--store", store_dir, "--quiet", env={"RAG_WATCH_SETTLE_MS": "100"})
    finally:
        done.set()
    helper.join(timeout=5)
    assert stored.is_set()
    assert r.exit_code == 0, r.output
    assert r.stdout == "stopped watching: 1 added, 0 updated, 0 removed, 0 unchanged; 0 errors\n"
    assert "added a.md (1 chunk)" in r.stderr.splitlines()


def test_a_file_moved_elsewhere_keeps_its_document(empty_store, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.md").write_text("# Bridge\n\nThe bridge over the Neris opened in 2019.\n", encoding="utf-8")
    _old(a / "x.md")
    ing = _ingestor(empty_store)
    assert sync(a, ing, on_event=lambda line: None).added == ["x.md"]
    before = {c.id: c.metadata for c in empty_store.get(where={"source": "x.md"})}
    (a / "x.md").rename(b / "x.md")
    moved = ing.run([b], progress=False)  # a plain ingest from its new place: same text, nothing re-embedded
    assert moved.added == 0 and moved.unchanged == len(before)
    after = {c.id: c.metadata for c in empty_store.get(where={"source": "x.md"})}
    assert set(after) == set(before)
    assert all(m == {**before[i], "path": str(b / "x.md")} for i, m in after.items())
    # so the old folder's sync does not take it for a deleted file
    lines: list[str] = []
    assert sync(a, ing, on_event=lines.append).removed == [] and lines == []
    assert _sources(empty_store) == {"x.md"}
