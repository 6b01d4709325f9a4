"""Request parsing for the chat and the JSON API: filters, conversation history, source lists.

Each raises ValueError with a message fit for the page. Nothing here imports Gradio.
"""
from __future__ import annotations

import json
from typing import Any


def filters(sources: list[str] | None, date_from: str | None, date_to: str | None):
    """A ``rag.retrieve.Filters`` from the chat's or the API's fields; a bad date bound is a ValueError."""
    from rag.retrieve import Filters, check_date_bound

    date_from, date_to = (date_from or "").strip() or None, (date_to or "").strip() or None
    for label, value in (("date from", date_from), ("date to", date_to)):
        if value:
            try:
                check_date_bound(value)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
    return Filters(tuple(sources or ()), date_from, date_to)


def parse_history(history: Any) -> list[dict[str, str]]:
    """A JSON list of {"role", "content"} (or of [user, assistant] pairs) → role/content dicts."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError as exc:
            raise ValueError(f"history is not JSON: {exc.msg}") from None
    if not isinstance(history, list):
        raise ValueError('history must be a JSON list of {"role": ..., "content": ...}')
    out = []
    for item in history:
        if isinstance(item, dict) and item.get("role") in ("user", "assistant"):
            out.append({"role": item["role"], "content": str(item.get("content", ""))})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out += [{"role": "user", "content": str(item[0])}, {"role": "assistant", "content": str(item[1])}]
        else:
            raise ValueError('history items must be {"role": "user"|"assistant", "content": ...}')
    return out


def parse_sources(sources: Any) -> list[str]:
    """A JSON list or a comma-separated string of document names → the names."""
    if not sources:
        return []
    if isinstance(sources, str):
        s = sources.strip()
        if s.startswith("["):
            try:
                return [str(x) for x in json.loads(s)]
            except json.JSONDecodeError as exc:
                raise ValueError(f"sources is not a JSON list: {exc.msg}") from None
        return [p.strip() for p in s.split(",") if p.strip()]
    return [str(x) for x in sources]
