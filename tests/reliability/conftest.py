"""Fixtures for the reliability tests: real servers as subprocesses, the CLI, writable store copies."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rel_helpers import ROOT, ServerProcess  # noqa: E402


@pytest.fixture
def start_server(tmp_path) -> Callable[..., ServerProcess]:
    """Factory: ``start_server(cmd, name=..., env=...)``; every server started is stopped at teardown."""
    started: list[ServerProcess] = []

    def start(cmd: list[str], name: str = "server", env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(cmd, tmp_path / f"{name}.log", env=env, cwd=ROOT)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cli():
    """Run the ``rag`` click group in-process: ``cli("sources", "--json", env={...})`` → click Result."""
    from click.testing import CliRunner

    from rag.cli import main

    def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None):
        # settings come from the arguments, never from RAG_* variables of the calling shell
        base: dict[str, str | None] = {k: None for k in os.environ if k.startswith("RAG_")}
        return CliRunner().invoke(main, [str(a) for a in args], env={**base, **(env or {})}, input=input,
                                  catch_exceptions=True)

    return run


@pytest.fixture
def store_copy(seed_store_dir, tmp_path) -> Path:
    """A private, writable copy of the session's seed store."""
    path = tmp_path / "store"
    shutil.copytree(seed_store_dir, path)
    return path
