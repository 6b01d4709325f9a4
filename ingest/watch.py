"""Folder sync: keep the store in step with folders (``rag ingest --watch DIR ...``).

``sync(folder, ingestor)`` brings the store in line with a folder once: new and changed files are
ingested (unchanged ones cost nothing: chunk ids derive from content), and documents that were read
from that folder but whose file is gone are removed. ``watch(folders, ingestor)`` starts watching
(watchfiles), syncs each folder, then follows changes until its ``stop_event`` is set or Ctrl-C:
new and changed files are ingested, deleted ones removed, a rename is a removal plus an ingest.

- Files are the ones ``rag ingest DIR`` takes, under the same source id (the file name), so that
  watching and plain ingest never duplicate each other. Hidden files and folders, editor swap and
  backup files (``~``, ``.swp``, ``.swx``, ``#name#``) and partial downloads (``.tmp``, ``.part``,
  ``.crdownload``) are ignored, and so, silently, are unsupported file types.
- A file is ingested only once its size and mtime have not changed for ``Settings.watch_settle_ms``
  (a file still being written is not ingested half-written); a deleted path is removed after the same
  wait, so an editor that saves by deleting and re-creating a file causes no removal.
- Which stored document came from which file is told by its ``path`` metadata (the absolute path it
  was last ingested from, see ``ingest.pipeline.prepare_document``). A document stored before that
  metadata existed is adopted (its path recorded) when a file of its name in the folder is ingested;
  until then it is never removed.
- Source ids are file names, so a second file of an already-stored name that still exists elsewhere is
  refused with an error line ("rename one") rather than replacing the other one's document.
- A file that fails to load gets one error line; whatever was stored for it stays.

Progress is one line per file through ``on_event`` (stderr by default): ``added x.md (5 chunks)``,
``updated x.md (5 chunks)``, ``removed x.md (5 chunks)``, ``error: <path>: <reason>``.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from ingest.load import SUPPORTED_SUFFIXES
from ingest.pipeline import Ingestor, iter_files

# names of files that are never ingested: swap, backup, lock and partial-download files
TEMP_SUFFIXES = (".swp", ".swx", ".tmp", ".part", ".crdownload")


class StopEvent(Protocol):
    def is_set(self) -> bool: ...


def is_ignored(path: str | Path) -> bool:
    """True for hidden, editor swap/backup and partial-download files, judged by the name alone."""
    name = os.path.basename(os.fspath(path))
    return (not name or name.startswith(".") or name.endswith("~") or name.lower().endswith(TEMP_SUFFIXES)
            or (len(name) > 1 and name.startswith("#") and name.endswith("#")))


def _print_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class SyncReport:
    """What a sync or a watch session did: sources added, updated and removed, one line per error."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    # files still being written when ``sync`` ran (modified within the settle time): not ingested by
    # ``sync``; ``watch`` ingests them once they have settled
    deferred: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged; {len(self.errors)} errors")


def _signature(path: str) -> tuple[int, int, int] | None:
    """(size, mtime, inode) of a file; None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _chunks(n: int) -> str:
    return f"{n} chunk" if n == 1 else f"{n} chunks"


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Syncer:
    """The state of one sync/watch session over ``roots`` (absolute folder paths)."""

    def __init__(self, ingestor: Ingestor, folders: Iterable[str | Path], on_event: Callable[[str], None]) -> None:
        roots: list[str] = []
        for folder in folders:
            root = os.path.abspath(os.fspath(folder))
            if not os.path.isdir(root):
                raise NotADirectoryError(f"{folder}: not a folder")
            roots.append(root)
        # a folder inside another watched one adds nothing
        self.roots = sorted({r for r in roots if not any(o != r and _under(r, o) for o in roots)})
        self.ingestor = ingestor
        self.store = ingestor.store
        self.settle_s = ingestor.settings.watch_settle_ms / 1000
        self.on_event = on_event
        self.report = SyncReport()
        s = self.store.settings
        self.store_dir = None if s.chroma_url else os.path.abspath(s.store_dir)
        self.index: dict[str, str] = {}  # absolute path -> source, for documents read from the roots
        self.pending: dict[str, tuple[tuple[int, int, int] | None, float]] = {}  # path -> (signature, since)

    # --- which paths count
    def excluded(self, path: str) -> bool:
        """Never ingested: ignored names, anything in a hidden folder under a root, the store itself."""
        path = os.path.abspath(path)
        if is_ignored(path) or (self.store_dir and _under(path, self.store_dir)):
            return True
        root = next((r for r in self.roots if _under(path, r)), None)
        rel = os.path.relpath(path, root) if root else ""
        return any(part.startswith(".") for part in Path(rel).parts if part != ".")

    def wanted(self, path: str) -> bool:
        return not self.excluded(path) and os.path.splitext(path)[1].lower() in SUPPORTED_SUFFIXES

    # --- what the store holds
    def _stored_paths(self, where: dict[str, Any] | None = None) -> dict[str, set[str]]:
        """source -> the paths its chunks were read from (empty for documents stored without one)."""
        out: dict[str, set[str]] = {}
        for chunk in self.store.get(where=where, with_text=False):
            paths = out.setdefault(str(chunk.metadata.get("source", "")), set())
            if chunk.metadata.get("path"):
                paths.add(str(chunk.metadata["path"]))
        return out

    def _clash(self, path: str, stored: Iterable[str]) -> str | None:
        """Another existing file whose document holds this file's source id, if any."""
        return next((q for q in sorted(stored) if q != path and os.path.isfile(q)), None)

    # --- writes, one line each
    def _emit(self, line: str) -> None:
        self.on_event(line)

    def _error(self, message: str) -> None:
        self.report.errors.append(message)
        self._emit(f"error: {message}")

    def _ingest(self, files: list[str], progress: bool = False) -> None:
        if not files:
            return
        by_name: dict[str, str] = {}
        for f in files:
            by_name.setdefault(os.path.basename(f), f)
        try:
            result = self.ingestor.run([Path(f) for f in files], progress=progress)
        except Exception as exc:  # the store failed as a whole (per-file problems are in the report)
            for f in files:
                self._error(f"{f}: could not ingest: {exc}")
            return
        for doc in result.documents:
            path = by_name.get(doc.source)
            if path:
                for q in [q for q, s in self.index.items() if s == doc.source]:
                    del self.index[q]
                self.index[path] = doc.source
            chunks = doc.added + doc.unchanged
            if doc.added == 0 and doc.removed == 0:
                self.report.unchanged += 1
                continue
            kind = "added" if doc.unchanged == 0 and doc.removed == 0 else "updated"
            (self.report.added if kind == "added" else self.report.updated).append(doc.source)
            self._emit(f"{kind} {doc.source} ({_chunks(chunks)})")
        for err in result.errors:
            self._error(str(err))

    def _remove_source(self, source: str) -> None:
        try:
            n = self.ingestor.remove(source)
        except Exception as exc:
            self._error(f"{source}: could not remove: {exc}")
            return
        for q in [q for q, s in self.index.items() if s == source]:
            del self.index[q]
        if n:
            self.report.removed.append(source)
            self._emit(f"removed {source} ({_chunks(n)})")

    def _ingest_checked(self, files: list[str], progress: bool = False,
                        stored: dict[str, set[str]] | None = None) -> None:
        """Ingest ``files``, except those whose name is held by another existing file's document."""
        ok: list[str] = []
        for f in files:
            name = os.path.basename(f)
            paths = stored.get(name, set()) if stored is not None else self._stored_paths({"source": name}).get(name, set())
            other = self._clash(f, paths)
            if other:
                self._error(f"{f}: another file named {name} ({other}) is already stored; rename one")
            else:
                ok.append(f)
        self._ingest(ok, progress)

    # --- one folder at once
    def sync(self, root: str, progress: bool = False) -> None:
        """Ingest the folder's new and changed files; remove the documents whose file left it."""
        stored = self._stored_paths()
        files = [str(p) for p, err in iter_files([Path(root)]) if err is None and self.wanted(str(p))]
        present = set(files)
        names = {os.path.basename(f) for f in files}
        now = time.time()
        ready: list[str] = []
        for f in files:
            try:
                fresh = now - os.stat(f).st_mtime < self.settle_s
            except OSError:  # gone since the listing
                continue
            if fresh:
                self.report.deferred.append(f)
            else:
                ready.append(f)
        self._ingest_checked(ready, progress, stored)
        for source, paths in sorted(stored.items()):
            if paths and source not in names and all(_under(p, root) and p not in present for p in paths):
                self._remove_source(source)
        for source, paths in stored.items():  # documents already in step (unchanged) are watched too
            for p in paths:
                if p in present:
                    self.index.setdefault(p, source)

    # --- watching
    def note(self, path: str, now: float) -> None:
        """A change was seen at ``path``: wait for it to settle (a folder: every file in it)."""
        path = os.path.abspath(path)
        if self.excluded(path):
            return
        if os.path.isdir(path):
            for f, err in iter_files([Path(path)]):
                if err is None and self.wanted(str(f)):
                    self.pending[str(f)] = (_signature(str(f)), now)
            return
        if os.path.exists(path) and not self.wanted(path):
            return  # an unsupported file type: ignored, silently
        self.pending[path] = (_signature(path), now)

    def process(self, now: float) -> None:
        """Act on every pending path that has not changed for the settle time."""
        ready: list[str] = []
        for path, (sig, since) in list(self.pending.items()):
            current = _signature(path)
            if current != sig:
                self.pending[path] = (current, now)
                continue
            if now - since < self.settle_s:
                continue
            del self.pending[path]
            if current is None:
                self._removed(path)
            elif os.path.isdir(path):
                self.note(path, now)
            elif self.wanted(path):
                ready.append(path)
        self._ingest_checked(ready)

    def _removed(self, path: str) -> None:
        """``path`` (a file or a folder) is gone: remove the documents last read from it."""
        inside = path.rstrip(os.sep) + os.sep
        targets = set(self._stored_paths({"path": path}))
        targets.update(s for q, s in self.index.items() if q == path or q.startswith(inside))
        for source in sorted(targets):
            paths = self._stored_paths({"source": source}).get(source, set())
            # only if its document was not read again from somewhere else in the meantime
            if paths and all((p == path or p.startswith(inside)) and not os.path.exists(p) for p in paths):
                self._remove_source(source)


def sync(folder: str | Path, ingestor: Ingestor, on_event: Callable[[str], None] = _print_stderr,
         progress: bool = False) -> SyncReport:
    """Bring the store in step with ``folder`` once; one line per added, updated, removed or failed file.

    Files modified within ``watch_settle_ms`` are left for later (``report.deferred``).
    Raises NotADirectoryError if ``folder`` is not a folder.
    """
    syncer = _Syncer(ingestor, [folder], on_event)
    for root in syncer.roots:
        syncer.sync(root, progress)
    return syncer.report


def watch(folders: Iterable[str | Path], ingestor: Ingestor, stop_event: StopEvent | None = None,
          on_event: Callable[[str], None] = _print_stderr, progress: bool = False) -> SyncReport:
    """Sync each folder, then keep the store in step with them until ``stop_event`` is set or Ctrl-C.

    Returns what the whole session did. Changes still settling when it stops are left to the next
    sync. Raises NotADirectoryError if one of ``folders`` is not a folder.
    """
    import watchfiles

    syncer = _Syncer(ingestor, folders, on_event)
    settings = ingestor.settings
    changes_seen = watchfiles.watch(
        *syncer.roots,
        watch_filter=lambda _change, path: not syncer.excluded(path),
        debounce=settings.watch_debounce_ms,
        step=50,
        stop_event=stop_event,
        # wake up at least this often (in ms) to ingest what has settled meanwhile
        rust_timeout=min(max(settings.watch_settle_ms // 2, 50), 1000),
        yield_on_timeout=True,
    )
    try:
        # The first step starts the watcher, so that what changes during the sync is seen after it.
        first = next(changes_seen, None)
        if first is None:  # stopped already
            return syncer.report
        for root in syncer.roots:
            syncer.sync(root, progress)
        now = time.monotonic()
        for path in syncer.report.deferred:
            syncer.note(path, now)
        for _change, path in first:
            syncer.note(path, now)
        for changes in changes_seen:
            now = time.monotonic()
            for _change, path in changes:
                syncer.note(path, now)
            syncer.process(time.monotonic())
    except KeyboardInterrupt:  # Ctrl-C: stop cleanly; the caller prints the summary
        pass
    finally:
        changes_seen.close()
    return syncer.report


__all__ = ["SyncReport", "is_ignored", "sync", "watch", "TEMP_SUFFIXES"]
