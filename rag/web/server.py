"""Starting the web app: the launch options that keep it private and safe, and ``serve`` (`rag chat`).

Both set the offline environment first (:func:`rag.config.offline_environment`); ``serve`` does so
before Gradio is imported.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rag.access import require_auth
from rag.config import Settings, offline_environment
from rag.web.page import CSS, HEAD, theme


def launch(app: Any, settings: Settings, host: str = "127.0.0.1", port: int | None = 7860,
           auth: str | tuple[str, str] | None = None, prevent_thread_lock: bool = False, quiet: bool = False):
    """Start the server with the app's privacy and safety options; returns (fastapi_app, local_url, share_url).

    ``app`` is the ``gr.Blocks`` of :func:`rag.app.build_app`; ``auth`` None: ``settings.auth`` (RAG_AUTH).
    """
    offline_environment()
    credentials = require_auth(host, auth if auth is not None else settings.auth)
    return app.launch(
        server_name=host,
        server_port=port,
        auth=credentials,
        auth_message="Sign in to ask your documents." if credentials else None,
        share=False,
        inbrowser=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        max_file_size=settings.max_file_bytes,
        theme=theme(),
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        run_history=False,
        enable_monitoring=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        strict_cors=True,
    )


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          ingest_seeds: Path | None = None) -> None:
    """Serve the app (blocking). Off loopback a ``USER:PASSWORD`` auth is required (``auth`` None:
    ``settings.auth``, i.e. RAG_AUTH)."""
    offline_environment()
    credentials = require_auth(host, auth if auth is not None else settings.auth)
    _ingest_seeds_if_empty(settings, ingest_seeds)
    from rag.web.layout import build_app  # imports Gradio: after the offline environment is set

    # "" rather than None for no credentials: launch must not fall back to settings.auth again
    launch(build_app(settings), settings, host=host, port=port, auth=credentials or "")


def _ingest_seeds_if_empty(settings: Settings, seeds: Path | None) -> None:
    """Ingest ``seeds`` into the process's store for ``settings`` when that store is empty."""
    from rag.store import StoreError
    from rag.web.context import default_store

    try:
        store = default_store(settings)
        if seeds is not None and store.count() == 0:
            from ingest.pipeline import Ingestor

            print(f"the store at {store.location} is empty: ingesting {seeds} first", file=sys.stderr)
            report = Ingestor(store, settings).run([Path(seeds)], progress=True)
            for err in report.errors:
                print(f"error: {err}", file=sys.stderr)
            print(report.summary(), file=sys.stderr)
    except StoreError as exc:
        raise ValueError(str(exc)) from None
