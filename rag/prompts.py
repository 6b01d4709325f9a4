"""Prompt files: ``prompts/NAME.md`` → a LangChain ChatPromptTemplate.

A prompt file starts with ``#`` header lines saying what it is for, then ``=== system ===`` and
``=== user ===`` sections; ``=== assistant ===`` sections between them give worked examples (a user
turn and the reply wanted), which stay in the fixed prefix whose KV state llama.cpp reuses. Passages
are rendered here, each with its title, date and source.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Iterable

from langchain_core.prompts import ChatPromptTemplate

from rag.config import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"
_SECTION = re.compile(r"^=== (system|user|assistant) ===\s*$", re.MULTILINE)
_ROLES = {"system": "system", "user": "human", "assistant": "ai"}
_FORGED_HEADER = re.compile(r"^\s*\[(\d+)\]", re.MULTILINE)


@functools.lru_cache(maxsize=None)
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """Parse ``prompts/<name>.md`` into a chat prompt (system, worked examples, human message)."""
    path = directory / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    # parts: [header, "system", body, "user", body, ...] ("assistant", body pairs between user turns)
    messages = []
    for role, body in zip(parts[1::2], parts[2::2]):
        messages.append((_ROLES[role], body.strip()))
    if not messages:
        raise ValueError(f"{path}: no '=== system ===' / '=== user ===' sections")
    return ChatPromptTemplate.from_messages(messages)


def passage_header(n: int, meta: dict) -> str:
    """``[n] 26 November 2020 — "Title" (file.txt)`` — the model's cue to tell visits apart.

    The file name stays although it costs a dozen prompt tokens a passage: without it the briefing
    evals lost facts on the dev topics (b01, b03, b08; 2026-12-02), so it carries information the
    small model uses (which passages come from one document). Left out of the answer prompt only, it
    lost dev questions too: seeds dev 48 -> 43 passed of the first 59 (q12, q26, q39 lost; unanswerable
    q48 and q54 answered; 2026-12-04, ``EVAL_SPLIT=dev pytest evals/test_questions.py``, run stopped
    there).
    """
    date = meta.get("date_label") or "date unknown"
    return f'[{n}] {date} — "{meta.get("title", "untitled")}" ({meta.get("source", "?")})'


# What :func:`passage_header` writes at the start of a passage, for the verifier to tell it from the text.
PASSAGE_HEADER = re.compile(r'^\[\d+\] [^\n]*? — "[^\n]*?" \([^()\n]*\)')


def format_passages(chunks: Iterable[tuple[int, dict, str]]) -> str:
    """Render (number, metadata, text) triples as the numbered passage block of a prompt."""
    blocks = []
    for n, meta, text in chunks:
        heading = meta.get("heading")
        body = text[int(meta.get("body_offset", 0)):] if heading else text
        section = f"Section: {heading}\n" if heading else ""
        # a document line shaped like a passage header ("[3] 1 January ...") must not pass for one
        body = _FORGED_HEADER.sub(r"(\1)", body.strip())
        blocks.append(f"{passage_header(n, meta)}\n{section}{body}")
    return "\n\n".join(blocks)
