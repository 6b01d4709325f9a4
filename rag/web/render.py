"""Text for the page: untrusted text made inert Markdown, citation marks made links, status lines, timings.

Document and model text is always HTML-escaped before it reaches the page; document HTML is never
rendered. Nothing here imports Gradio.
"""
from __future__ import annotations

import html
import logging
import re

log = logging.getLogger("rag.app")  # the web app's log name, whichever module of it logs

_CITE_RE = re.compile(r"\\\[(\d+)\\\]")


def md_escape(text: str) -> str:
    """Make untrusted text inert in Gradio Markdown: HTML escaped, Markdown syntax backslash-escaped."""
    text = html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]{}|~$!#+])", r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)(\d+)([.)])", r"\1\2\\\3", text)  # "1. " would start a list
    text = re.sub(r"(?m)^(\s*)-", r"\1\\-", text)
    return text


def link_citations(escaped: str, anchor: str, numbers: set[int]) -> str:
    """Turn escaped ``\\[n\\]`` marks into links to the source card ``#{anchor}-{n}``."""
    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in numbers:
            return m.group(0)
        return f'<a class="cite" href="#{anchor}-{n}" title="Show source {n}">[{n}]</a>'
    return _CITE_RE.sub(repl, escaped)


def answer_markdown(text: str, anchor: str | None = None, numbers: set[int] | None = None) -> str:
    out = md_escape(text)
    return link_citations(out, anchor, numbers or set()) if anchor else out


def briefing_markdown(markdown: str, anchor: str, numbers: set[int]) -> str:
    """A generated briefing for display: its Markdown structure kept, document text made inert."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"([\[\]!$\\])", r"\\\1", text)  # no links, images or LaTeX from document text
    return link_citations(text, anchor, numbers)


def first_line(text: str, limit: int = 80) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def slug(text: str) -> str:
    """A file-name part for a download: lower case words joined by "-", at most 50 characters."""
    s = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")
    return s[:50] or "collection"


def error_text(exc: BaseException) -> str:
    """One line for the page; unexpected errors are logged with their traceback on the server."""
    from rag.store import StoreError

    if isinstance(exc, (StoreError, LookupError, ValueError, OSError)):
        return str(exc) or type(exc).__name__
    log.exception("unexpected error in the web app")
    return f"unexpected error ({type(exc).__name__}): {exc}" if str(exc) else f"unexpected error ({type(exc).__name__})"


def status(msg: str, ok: bool = False) -> str:
    return ("✓ " if ok else "⚠ ") + md_escape(msg)  # text symbols: emoji fonts may be missing


# step → label, in the order the steps run; first token and total count from the question's arrival
_TIMING_LABELS = {"rewrite_ms": "follow-up rewrite", "retrieve_ms": "retrieval", "first_token_ms": "first token",
                  "generate_ms": "generation", "verify_ms": "verification", "total_ms": "total"}


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def timings_html(timings: dict[str, float]) -> str:
    """A collapsed "Timings" list for under an answer: each step's time, in ms below a second, else s."""
    known = [k for k in _TIMING_LABELS if k in timings]
    extra = sorted(k for k in timings if k not in _TIMING_LABELS)  # a step added later still shows
    items = "".join(
        f"<li>{html.escape(_TIMING_LABELS.get(k, k.removesuffix('_ms').replace('_', ' ')))}: "
        f"{html.escape(_duration(float(timings[k])))}</li>"
        for k in known + extra if isinstance(timings[k], (int, float)))
    if not items:
        return ""
    # one line and no blank line inside: Markdown passes it through as a single HTML block
    return f'<details class="answer-timings"><summary>Timings</summary><ul>{items}</ul></details>'
