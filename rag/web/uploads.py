"""Uploaded files: each copied under a safe name into a private temp dir, ingested, reported per file.

An upload's name comes from the browser and is never trusted: :func:`sanitize_filename` keeps its
base name only (no directories, no control characters). Nothing here imports Gradio.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rag.config import Settings

UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"]  # = ingest.load.SUPPORTED_SUFFIXES


def sanitize_filename(name: str, fallback: str = "upload") -> str:
    """A safe base name for an uploaded file: no directories, no control characters, unicode kept.

    ``../../etc/passwd.txt`` → ``passwd.txt``; ``C:\\x\\report.md`` → ``report.md``; spaces inside
    the name are kept as they are (so the web app and ``rag ingest`` name a document alike),
    leading/trailing spaces and dots are dropped, characters that are special
    on common file systems (``<>:"|?*``) become ``_``, and the name is cut to 200 bytes keeping
    its suffix. Returns ``fallback`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # basename for both POSIX and Windows paths
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # control, format, unassigned
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = name.strip(" .")
    if not name or set(name) <= {"."}:
        return fallback
    stem, dot, suffix = name.rpartition(".")
    if not stem:  # "txt" or a name that was only ".txt" after stripping
        stem, dot, suffix = name, "", ""
    while len((stem + dot + suffix).encode("utf-8")) > 200 and stem:
        stem = stem[:-1]
    stem = stem.rstrip(" .") or fallback
    return stem + dot + suffix


@dataclass
class UploadResult:
    added: list[str]
    rejected: list[tuple[str, str]]  # (file name, reason)
    summary: str


def ingest_uploads(store, settings: Settings, paths: list[str],
                   on_file: Callable[[int, int, str], None] | None = None) -> UploadResult:
    """Copy uploads into a temp dir under sanitised names, ingest them, report per file."""
    from ingest.pipeline import Ingestor

    tmp = Path(tempfile.mkdtemp(prefix="rag-upload-"))
    try:
        staged: list[Path] = []
        rejected: list[tuple[str, str]] = []
        by_path: dict[str, str] = {}
        for i, p in enumerate(paths):
            name = sanitize_filename(Path(str(p)).name)
            dest = tmp / str(i) / name
            dest.parent.mkdir()
            try:
                shutil.copyfile(str(p), dest)
            except OSError as exc:
                rejected.append((name, f"could not read the upload: {exc.strerror or exc}"))
                continue
            staged.append(dest)
            by_path[str(dest)] = name
        report = Ingestor(store, settings).run(staged, progress=False, on_file=on_file)
        for err in report.errors:
            rejected.append((by_path.get(err.path, Path(err.path).name), err.reason))
        added = [d.source for d in report.documents]
        return UploadResult(added, rejected, report.summary())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
