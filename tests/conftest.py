"""Shared fixtures: a real Chroma store on disk built from seeds/ with the real embedding model."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from rag.config import Settings  # noqa: E402  (sets the offline environment first)

SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def seed_store_dir(tmp_path_factory) -> Path:
    """A store ingested from seeds/ once per session (tests must not write to it)."""
    from ingest.pipeline import Ingestor
    from rag.store import Store

    path = tmp_path_factory.mktemp("seedstore")
    settings = Settings.from_env(store_dir=path, chroma_url="")
    report = Ingestor(Store(settings), settings).run([SEEDS], progress=False)
    assert report.ok and report.added > 0
    return path


@pytest.fixture(scope="session")
def seed_settings(seed_store_dir) -> Settings:
    return Settings.from_env(store_dir=seed_store_dir, chroma_url="")


@pytest.fixture(scope="session")
def seed_store(seed_settings):
    from rag.store import Store

    return Store(seed_settings, create=False)


@pytest.fixture
def empty_store(tmp_path):
    from rag.store import Store

    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="")
    return Store(settings)
