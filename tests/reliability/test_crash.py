"""Crash safety of ingest: ``rag ingest`` killed with SIGKILL part-way, then run again to completion.

The ingest runs as a real subprocess over a folder of generated documents and is killed as soon as
the store (read through its SQLite file) shows that it has written something, with files left to
do: the kill lands mid-run whatever the machine's speed. The store left behind is completed by a
second ingest and compared, chunk id by chunk id, with what a fresh ingest makes.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from rel_helpers import SEED_NAMES, SEEDS, chroma_counts, rag_exe, subprocess_env

from rag.config import Settings

CITIES = ["Minsk", "Brest", "Grodno", "Gomel", "Vitebsk", "Mogilev", "Pinsk", "Lida", "Orsha", "Polotsk",
          "Baranovichi", "Bobruisk", "Borisov", "Soligorsk", "Molodechno", "Novopolotsk", "Zhlobin", "Svetlogorsk",
          "Rechitsa", "Slutsk"]
# the ingest bar only ("Loading weights: 103/103 [..." is another tqdm bar on the same stderr)
PROGRESS = re.compile(rb"ingesting: *\d+%\|[^|\r\n]*\| *(\d+)/(\d+) \[")
# Installed in the killed process only: Store.delete sleeps first, so that the window between a
# document's new chunks being written and its stale ones being deleted is wide on any machine.
SLOW_DELETE = """
import os, time
import rag.store

_delete = rag.store.Store.delete


def _slow_delete(self, ids):
    if ids:
        time.sleep(float(os.environ["CRASH_TEST_DELETE_DELAY"]))
    _delete(self, ids)


rag.store.Store.delete = _slow_delete
"""


def _sentence_pool() -> list[str]:
    """Sentences of the seed articles (cleaned), to be recombined into new documents."""
    from ingest.clean import clean_text
    from rag.verify import split_sentences

    pool: set[str] = set()
    for name in SEED_NAMES:
        for para in clean_text((SEEDS / name).read_text(encoding="utf-8")).split("\n\n"):
            pool.update(s for s in split_sentences(para) if 40 <= len(s) <= 400)
    return sorted(pool)


def make_corpus(folder: Path, n: int, size: int = 3000, salt: str = "") -> list[Path]:
    """``n`` distinct documents of about ``size`` characters: a numbered title, then seed sentences in
    random paragraphs (seeded, so the same call gives the same files)."""
    pool = _sentence_pool()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rng = random.Random(f"{salt}:{i}")
        city = CITIES[i % len(CITIES)]
        title = f"Briefing note {i} from {city}"
        paras: list[str] = []
        length = 0
        while length < size:
            para = " ".join(rng.sample(pool, rng.randint(2, 4)))
            paras.append(para)
            length += len(para) + 2
        path = folder / f"{i:03d}_briefing_{city.lower()}.txt"
        path.write_text(f"{title}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _ingest(folder: Path, store: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    res = subprocess.run([rag_exe(), "ingest", str(folder), "--store", str(store), "--quiet"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"rag ingest failed ({res.returncode}):\n{res.stdout}\n{res.stderr[-3000:]}"
    return res


def ingest_and_kill(folder: Path, store: Path, kill_when, timeout: float = 600, env: dict | None = None) -> dict:
    """Run ``rag ingest folder --store store`` and SIGKILL it as soon as ``kill_when(files_done, total)``
    holds (checked every 20 ms once the progress bar is up). Returns what happened."""
    proc = subprocess.Popen([rag_exe(), "ingest", str(folder), "--store", str(store)], env=env or subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=0)
    err = bytearray()
    done = [0, 0]

    def read() -> None:
        fd = proc.stderr.fileno()
        while chunk := os.read(fd, 65536):
            err.extend(chunk)
            found = PROGRESS.findall(bytes(err[-400:]))
            if found:
                done[0], done[1] = int(found[-1][0]), int(found[-1][1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    t0 = time.monotonic()
    killed_at = None
    try:
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            if done[1] and kill_when(done[0], done[1]):
                proc.kill()  # SIGKILL, by pid
                killed_at = time.monotonic() - t0
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and killed_at is None:
            proc.kill()
        proc.wait(30)
        reader.join(10)
    return {"killed": killed_at is not None and proc.returncode == -9, "at_s": killed_at, "files_done": done[0],
            "total": done[1], "returncode": proc.returncode, "stderr": err.decode(errors="replace")[-3000:]}


def expected_ids(folder: Path, settings: Settings) -> dict[str, set[str]]:
    """Chunk ids per source that ingesting ``folder`` creates (computed, no store involved)."""
    from ingest.pipeline import chunk_id, prepare_document

    out = {}
    for path in sorted(folder.iterdir()):
        doc = prepare_document(path, settings)
        out[doc.source] = {chunk_id(doc.source, doc.metadata["content_hash"], c) for c in doc.chunks}
    return out


def check_store(store_dir: Path, folder: Path, reference_dir: Path | None = None) -> dict[str, int]:
    """The store at ``store_dir`` holds exactly the chunks a fresh ingest of ``folder`` makes (computed,
    and, given ``reference_dir``, as stored there by a clean ingest); returns chunks per source."""
    from rag.retrieve import Retriever
    from rag.store import Store

    settings = Settings.from_env(store_dir=store_dir, chroma_url="")
    store = Store(settings, create=False)
    chunks = store.get()
    ids = {c.id for c in chunks}
    assert len(ids) == len(chunks) == store.count()
    expected = expected_ids(folder, settings)

    by_source: dict[str, list] = {}
    for c in chunks:
        by_source.setdefault(c.metadata["source"], []).append(c)
    # no orphans: every chunk belongs to a file of the folder, in the file's current version
    assert set(by_source) == set(expected), f"orphan or missing sources: {set(by_source) ^ set(expected)}"
    for source, cs in by_source.items():
        assert {c.id for c in cs} == expected[source], f"{source}: not the chunks of its current version"
        assert len({c.metadata["content_hash"] for c in cs}) == 1, f"two versions of {source}"
        # no duplicates per span or per position
        spans = Counter((c.metadata["start"], c.metadata["end"]) for c in cs)
        assert max(spans.values()) == 1, f"duplicate spans in {source}: {[s for s, n in spans.items() if n > 1]}"
        assert sorted(c.metadata["chunk_index"] for c in cs) == list(range(len(cs)))
        assert {c.metadata["n_chunks"] for c in cs} == {len(cs)}
    if reference_dir is not None:
        ref = Store(Settings.from_env(store_dir=reference_dir, chroma_url=""), create=False).get()
        assert sorted((c.id, c.text) for c in chunks) == sorted((c.id, c.text) for c in ref), \
            "the store differs from a clean ingest of the same folder"

    # BM25 and the dense index agree with Chroma's records
    retriever = Retriever(store, settings)
    assert set(retriever.documents()) == set(expected)
    assert sorted(c.id for c in retriever.lexical_chunks()) == sorted(ids)
    qvec = store.embed_query("Lavrov met the Belarusian foreign minister")
    dense = store.dense_search(qvec, k=len(ids))
    assert {c.id for c, _ in dense} == ids, "the vector index does not hold exactly the stored chunks"
    return {s: len(cs) for s, cs in by_source.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """(folder of 40 generated documents, a store holding a clean ingest of it)."""
    from ingest.pipeline import Ingestor
    from rag.store import Store

    base = tmp_path_factory.mktemp("crash")
    folder = base / "docs"
    make_corpus(folder, 40)
    ref_dir = base / "reference"
    settings = Settings.from_env(store_dir=ref_dir, chroma_url="")
    t0 = time.monotonic()
    report = Ingestor(Store(settings), settings).run([folder], progress=False)
    print(f"clean in-process ingest of 40 files: {report.summary()} in {time.monotonic() - t0:.1f} s")
    assert report.ok and report.added > 40 * 3
    return folder, ref_dir


def test_kill_during_ingest_then_ingest_again(corpus, tmp_path, cli):
    folder, ref_dir = corpus
    expected = chroma_counts(ref_dir)
    total_chunks = sum(expected.values())
    store = tmp_path / "store"

    # kill once the first documents are written (ingest writes after embedding a few batches' worth
    # of chunks), with at least 3 files not yet reached
    run = ingest_and_kill(folder, store, lambda done, total: done <= total - 3 and sum(chroma_counts(store).values()) > 0)
    if not run["killed"]:
        pytest.skip(f"the ingest finished (exit {run['returncode']}) before it could be killed mid-way: "
                    f"{run['files_done']}/{run['total']} files seen done\n{run['stderr']}")
    partial = chroma_counts(store)
    print(f"SIGKILL at {run['at_s']:.1f} s after start (progress bar at {run['files_done']}/{run['total']}): "
          f"{sum(partial.values())}/{total_chunks} chunks of {len(partial)} documents in the store")
    assert 0 < sum(partial.values()) < total_chunks, "the kill did not land mid-ingest"
    assert len(partial) < len(expected)

    again = _ingest(folder, store)
    summary = again.stdout.strip().splitlines()[-1]
    print(f"second ingest: {summary}")
    m = re.search(r"(\d+) chunks added, (\d+) unchanged", summary)
    assert m and int(m.group(1)) + int(m.group(2)) == total_chunks, summary
    # Every chunk written before the kill is kept as is (a fresh store holds no stale chunks). Chroma
    # logs a write before applying it to the table counted above and replays its log on opening, so
    # a kill between the two shows one more document's chunks as unchanged than were counted.
    unchanged = int(m.group(2))
    assert sum(partial.values()) <= unchanged <= sum(partial.values()) + max(expected.values()), summary
    assert " 0 removed" in summary, summary
    assert check_store(store, folder, ref_dir) == dict(expected)
    assert chroma_counts(store) == expected

    # `rag sources` agrees (in this process: every process writing the store has exited)
    listed = cli("sources", "--json", "--store", store)
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert {r["source"]: r["chunks"] for r in rows} == dict(expected)


def test_kill_while_replacing_a_changed_document(tmp_path):
    """A changed document whose re-ingest is killed between writing its new chunks and deleting the old
    ones (the window the pipeline's docstring promises is safe): the next ingest leaves only the new
    version's chunks."""
    from rag.store import Store

    folder = tmp_path / "docs"
    folder.mkdir()
    big = make_corpus(tmp_path / "gen", 1, size=30_000, salt="big")[0]
    target = folder / "long_report.txt"
    shutil.copy(big, target)
    for name in SEED_NAMES[:2]:
        shutil.copy(SEEDS / name, folder / name)
    store = tmp_path / "store"
    _ingest(folder, store)
    before = chroma_counts(store)
    old_n = before[target.name]
    assert old_n > 20, before

    # change the long document: new sentences at the start shift every span, so every chunk id changes
    text = target.read_text(encoding="utf-8")
    head, rest = text.split("\n\n", 1)
    target.write_text(f"{head}\n\nA revised edition was published in Vitebsk on 2 February 2022.\n\n{rest}",
                      encoding="utf-8")

    seen = {"max": 0}

    def extra_chunks_present(done: int, total: int) -> bool:
        n = chroma_counts(store)[target.name]
        seen["max"] = max(seen["max"], n)
        return n > old_n  # the new chunks written, the old ones not yet deleted

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_DELETE, encoding="utf-8")
    env = subprocess_env(PYTHONPATH=str(hook), CRASH_TEST_DELETE_DELAY="60")
    run = ingest_and_kill(folder, store, extra_chunks_present, env=env)
    # with deletes held back, the new chunks must show up next to the old ones: if they never do, the
    # pipeline deleted before writing (a window with no chunks at all for the document)
    assert run["killed"], (f"the re-ingest finished (exit {run['returncode']}) without new and old chunks ever "
                           f"stored together (at most {seen['max']} chunks of {target.name}, old version {old_n})\n"
                           f"{run['stderr']}")
    partial = chroma_counts(store)
    print(f"SIGKILL at {run['at_s']:.1f} s with {partial[target.name]} chunks of {target.name} stored "
          f"(old version: {old_n})")
    assert partial[target.name] > old_n  # both versions' chunks are in the store now

    again = _ingest(folder, store).stdout.strip().splitlines()[-1]
    print(f"second ingest: {again}")
    new_n = len(expected_ids(folder, Settings())[target.name])
    written = partial[target.name] - old_n  # new chunks stored before the kill
    seeds_n = sum(n for s, n in before.items() if s != target.name)
    assert again == (f"3 documents: {new_n - written} chunks added, {written + seeds_n} unchanged, {old_n} removed; "
                     "0 errors"), again
    counts = check_store(store, folder)
    assert counts[target.name] == new_n
    new = Store(Settings.from_env(store_dir=store, chroma_url=""), create=False).get(where={"source": target.name})
    assert all("Vitebsk on 2 February 2022" in c.text for c in new if c.metadata["chunk_index"] == 0)
