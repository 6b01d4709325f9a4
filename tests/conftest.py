"""Shared fixtures: a real Chroma store on disk built from seeds/ with the real embedding model."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from rag.config import Settings, offline_environment  # noqa: E402

offline_environment()  # the test session is an entry point: before any test imports chromadb, gradio, HF

SEEDS = ROOT / "seeds"


def _ingested_store(tmp_path_factory, name: str, docs: Path) -> Path:
    """A new store in a fresh temporary directory ``name``, with everything under ``docs`` ingested."""
    from ingest.pipeline import Ingestor
    from rag.store import Store

    path = tmp_path_factory.mktemp(name)
    settings = Settings.from_env(store_dir=path, chroma_url="")
    report = Ingestor(Store(settings), settings).run([docs], progress=False)
    assert report.ok and report.added > 0
    return path


@pytest.fixture(scope="session")
def seed_store_dir(tmp_path_factory) -> Path:
    """A store ingested from seeds/ once per session (tests must not write to it)."""
    return _ingested_store(tmp_path_factory, "seedstore", SEEDS)


@pytest.fixture(scope="session")
def seed_settings(seed_store_dir) -> Settings:
    return Settings.from_env(store_dir=seed_store_dir, chroma_url="")


@pytest.fixture(scope="session")
def seed_store(seed_settings):
    from rag.store import Store

    return Store(seed_settings, create=False)


@pytest.fixture(scope="session")
def pdf_store_dir(tmp_path_factory) -> Path:
    """A store holding a real three-page PDF (tests/pdfs.py: a fact told on page 3 only) and one seed
    text file, ingested once per session (tests must not write to it)."""
    from pdfs import write_report

    docs = tmp_path_factory.mktemp("pdfdocs")
    write_report(docs / "water_report.pdf")
    shutil.copy(SEEDS / "000_e3a7af6ccd77722d.txt", docs / "000_e3a7af6ccd77722d.txt")
    return _ingested_store(tmp_path_factory, "pdfstore", docs)


@pytest.fixture(scope="session")
def pdf_store(pdf_store_dir):
    from rag.store import Store

    return Store(Settings.from_env(store_dir=pdf_store_dir, chroma_url=""), create=False)


@pytest.fixture
def empty_store(tmp_path):
    from rag.store import Store

    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="")
    return Store(settings)


@pytest.fixture
def store_copy(seed_store_dir, tmp_path) -> Path:
    """A private, writable copy of the session's seed store."""
    path = tmp_path / "store"
    shutil.copytree(seed_store_dir, path)
    return path


@pytest.fixture
def cli():
    """Run the ``rag`` click group in-process: ``cli("sources", "--json", env={...}, input=...)`` → click Result.

    Settings come from the arguments, never from RAG_* variables of the calling shell. Click >= 8.2
    keeps stderr apart: ``result.stdout`` / ``result.stderr`` (``result.output`` mixes both).
    """
    from click.testing import CliRunner

    from rag.cli import main

    def run(*args: object, env: dict[str, str | None] | None = None, input: str | None = None):
        base: dict[str, str | None] = {k: None for k in os.environ if k.startswith("RAG_")}
        return CliRunner().invoke(main, [str(a) for a in args], env={**base, **(env or {})}, input=input,
                                  catch_exceptions=True)

    return run
