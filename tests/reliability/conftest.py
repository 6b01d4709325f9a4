"""Fixtures for the reliability tests: real servers as subprocesses (the CLI and store copies: tests/conftest.py)."""
from __future__ import annotations

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
