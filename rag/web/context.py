"""Process singletons: one store and one answerer per settings, and each app's lazy handles to them.

The model is built on the first question, never at start-up. Nothing here imports Gradio.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from rag.config import Settings

_default_lock = threading.Lock()
_default_stores: dict[Settings, Any] = {}
_default_answerers: dict[Settings, Any] = {}


def default_store(settings: Settings):
    """One Store per settings per process (shared by serve()'s seed ingest and the app)."""
    from rag.store import Store

    with _default_lock:
        if settings not in _default_stores:
            _default_stores[settings] = Store(settings)
        return _default_stores[settings]


def default_answerer(settings: Settings):
    """:func:`rag.answer.build_answerer` over the process's store for ``settings`` and the configured
    chat model, built on first use and then reused."""
    from rag.answer import build_answerer

    store = default_store(settings)
    with _default_lock:
        if settings not in _default_answerers:
            _default_answerers[settings] = build_answerer(settings, store=store)
        return _default_answerers[settings]


@dataclass
class AppContext:
    """Per-app lazy handles: the answerer (model) and the store (which needs no model)."""

    settings: Settings
    factory: Callable[[], Any]
    store_factory: Callable[[], Any] | None = None
    _answerer: Any = None
    _briefer: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_settings(cls, settings: Settings, answerer_factory: Callable[[], Any] | None = None) -> "AppContext":
        """The process's shared store and answerer for ``settings``, or ``answerer_factory``'s answerer."""
        if answerer_factory is None:
            return cls(settings, lambda: default_answerer(settings), lambda: default_store(settings))
        return cls(settings, answerer_factory)

    def answerer(self):
        with self._lock:
            if self._answerer is None:
                self._answerer = self.factory()
            return self._answerer

    @property
    def store(self):
        return self.store_factory() if self.store_factory else self.answerer().store

    def briefer(self):
        from rag.brief import Briefer

        answerer = self.answerer()
        with self._lock:
            if self._briefer is None:
                self._briefer = Briefer(answerer)
            return self._briefer

    def sources(self):
        return self.store.sources()
