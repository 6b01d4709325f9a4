"""Fixtures for the web app tests: a writable copy of the seed store and a served app with a fake model."""
from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import QueuedChatModel

from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SEED_ANSWER = "Lavrov met Maxim Ryzhenkov in Brest [1]."
SEED_QUESTION = "Who did Lavrov meet in Brest?"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_settings(seed_store_dir, tmp_path_factory) -> Settings:
    """A private, writable copy of the seed store (uploads and removals must not touch the shared one)."""
    path = tmp_path_factory.mktemp("appstore") / "store"
    shutil.copytree(seed_store_dir, path)
    return Settings.from_env(store_dir=path, chroma_url="")


@pytest.fixture(scope="session")
def free_port():
    """A function returning a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture(scope="session")
def seed_qa() -> tuple[str, str]:
    """A seed question and the fake model's cited answer to it."""
    return SEED_QUESTION, SEED_ANSWER


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class SlowableChatModel(QueuedChatModel):
    """QueuedChatModel that can be told to think for ``delay`` seconds before each reply, or to wait
    for a ``gate`` (a ``threading.Event``) to open: a test can then look at the page mid-answer
    for as long as it needs, and let the model go on when it is done."""

    delay: float = 0.0
    started: int = 0  # calls begun (counted before the delay)
    chunk_delay: float = 0.0  # pause between streamed chunks
    gate: Any = None  # a threading.Event each reply waits for (at most 60 s, so a failed test cannot hang)

    def _stream(self, messages, stop=None, run_manager=None, **kw):
        for chunk in super()._stream(messages, stop, run_manager, **kw):
            if self.chunk_delay:
                time.sleep(self.chunk_delay)
            yield chunk

    def _next(self, messages):
        self.started += 1
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(60)
        return super()._next(messages)


@pytest.fixture(scope="module")
def fake_llm() -> SlowableChatModel:
    return SlowableChatModel(answers=[SEED_ANSWER])


@pytest.fixture(scope="module")
def served(app_settings, fake_llm):
    """(app, url): the app on 127.0.0.1 with the fake model, stopped after the module."""
    from rag.answer import Answerer
    from rag.app import build_app, launch
    from rag.store import Store

    store = Store(app_settings)
    app = build_app(app_settings, answerer_factory=lambda: Answerer(store, fake_llm, app_settings))
    _, url, _ = launch(app, app_settings, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    yield app, url.rstrip("/")
    app.close()
