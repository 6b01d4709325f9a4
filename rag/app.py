"""App: the Gradio web interface (Chat, Briefing, Documents) and its named API endpoints.

Everything runs locally: no analytics, system fonts only, nothing loaded from another host.
Model work (answers, briefings, ingest, removal) shares one queue slot, so requests run one at a
time and the others wait with their queue position shown. Document text is always HTML-escaped
before it reaches the page; document HTML is never rendered.

API (``gradio_client.Client(url).predict(..., api_name="/ask")``):
  * ``/ask``     question, history (JSON list of {"role","content"}), sources (JSON list or
                 comma-separated), date_from, date_to (YYYY[-MM[-DD]]), top_k (0 = default)
                 → the answer JSON (question, answer, refused, citations, timings)
  * ``/brief``   topic, timeline, whole → {topic, briefing, citations}
  * ``/sources`` → [{source, title, date, date_label, chunks}]
"""
from __future__ import annotations

import html
import json
import logging
import re
import shutil
import sys
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from rag.access import is_loopback, parse_auth
from rag.config import Settings  # sets the offline environment (GRADIO_ANALYTICS_ENABLED=False) first

import gradio as gr  # noqa: E402

log = logging.getLogger(__name__)

UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"]  # = ingest.load.SUPPORTED_SUFFIXES
WORK = "model"  # concurrency group: every request that runs the model or writes the store
WAITING = "… *reading the passages*"
CONTEXT_CHARS = 280  # text shown around a cited passage in a source card
_CITE_RE = re.compile(r"\\\[(\d+)\\\]")

# Clicking a citation [n] unfolds the (possibly collapsed) answer group holding its source card.
HEAD = """<meta name="referrer" content="no-referrer">
<script>
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest("a.cite") : null;
  if (!a) return;
  var card = document.getElementById(decodeURIComponent((a.getAttribute("href") || "").slice(1)));
  if (!card) return;
  ev.preventDefault();
  for (var d = card.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
  history.replaceState(null, "", "#" + card.id);
  card.scrollIntoView({behavior: "smooth", block: "nearest"});
  card.classList.remove("src-flash"); void card.offsetWidth; card.classList.add("src-flash");
}, true);
</script>"""

CSS = """
.src-panel { max-height: 640px; overflow-y: auto; }
.src-turn { margin: 0 0 .75em 0; }
.src-turn > summary { cursor: pointer; font-weight: 600; margin-bottom: .4em; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em;
            margin: 0 0 .6em 0; background: var(--background-fill-secondary); scroll-margin-top: 1em; }
.src-card:target, .src-card.src-flash { outline: 2px solid var(--color-accent); }
.src-head { font-weight: 600; }
.src-n { color: var(--color-accent); margin-right: .3em; }
.src-meta { font-size: .85em; opacity: .8; margin: .2em 0 .4em 0; }
.src-meta code { font-size: .95em; }
.src-section { font-size: .85em; font-style: italic; margin-bottom: .3em; }
.src-text { white-space: pre-wrap; font-size: .9em; line-height: 1.45; margin: 0; }
.src-text mark { background: #fff3a3; color: inherit; padding: 0 1px; }
.dark .src-text mark { background: #6b5d00; }
.src-empty { opacity: .7; font-style: italic; }
.src-card.src-retrieved { border-style: dashed; }
.src-status { font-weight: 400; font-style: italic; opacity: .8; }
.answer-timings { font-size: .85em; opacity: .85; margin-top: .4em; }
.answer-timings > summary { cursor: pointer; }
.answer-timings ul { margin: .2em 0 0 1.2em; padding: 0; }
a.cite { text-decoration: none; font-weight: 600; }
"""


# ----------------------------------------------------------------------------- helpers

def sanitize_filename(name: str, fallback: str = "upload") -> str:
    """A safe base name for an uploaded file: no directories, no control characters, unicode kept.

    ``../../etc/passwd.txt`` → ``passwd.txt``; ``C:\\x\\report.md`` → ``report.md``; spaces inside
    the name are kept as they are (so the web app and ``rag ingest`` name a document alike),
    leading/trailing spaces and dots are dropped, characters that are special
    on common file systems (``<>:"|?*``) become ``_``, and the name is cut to 200 bytes keeping
    its suffix. Returns ``fallback`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # basename for both POSIX and Windows paths
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # control, format, unassigned
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = name.strip(" .")
    if not name or set(name) <= {"."}:
        return fallback
    stem, dot, suffix = name.rpartition(".")
    if not stem:  # "txt" or a name that was only ".txt" after stripping
        stem, dot, suffix = name, "", ""
    while len((stem + dot + suffix).encode("utf-8")) > 200 and stem:
        stem = stem[:-1]
    stem = stem.rstrip(" .") or fallback
    return stem + dot + suffix


def _md_escape(text: str) -> str:
    """Make untrusted text inert in Gradio Markdown: HTML escaped, Markdown syntax backslash-escaped."""
    text = html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]{}|~$!#+])", r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)(\d+)([.)])", r"\1\2\\\3", text)  # "1. " would start a list
    text = re.sub(r"(?m)^(\s*)-", r"\1\\-", text)
    return text


def _link_citations(escaped: str, anchor: str, numbers: set[int]) -> str:
    """Turn escaped ``\\[n\\]`` marks into links to the source card ``#{anchor}-{n}``."""
    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in numbers:
            return m.group(0)
        return f'<a class="cite" href="#{anchor}-{n}" title="Show source {n}">[{n}]</a>'
    return _CITE_RE.sub(repl, escaped)


def answer_markdown(text: str, anchor: str | None = None, numbers: set[int] | None = None) -> str:
    out = _md_escape(text)
    return _link_citations(out, anchor, numbers or set()) if anchor else out


def briefing_markdown(markdown: str, anchor: str, numbers: set[int]) -> str:
    """A generated briefing for display: its Markdown structure kept, document text made inert."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"([\[\]!$\\])", r"\\\1", text)  # no links, images or LaTeX from document text
    return _link_citations(text, anchor, numbers)


def _first_line(text: str, limit: int = 80) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _slug(text: str) -> str:
    s = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")
    return s[:50] or "collection"


def _error_text(exc: BaseException) -> str:
    """One line for the page; unexpected errors are logged with their traceback on the server."""
    from rag.store import StoreError

    if isinstance(exc, (StoreError, LookupError, ValueError, OSError)):
        return str(exc) or type(exc).__name__
    log.exception("unexpected error in the web app")
    return f"unexpected error ({type(exc).__name__}): {exc}" if str(exc) else f"unexpected error ({type(exc).__name__})"


def _status(msg: str, ok: bool = False) -> str:
    return ("✓ " if ok else "⚠ ") + _md_escape(msg)  # text symbols: emoji fonts may be missing


# ----------------------------------------------------------------------------- source cards

def document_text(store, source: str) -> str:
    """The cleaned text of ``source`` rebuilt from its chunks (exact offsets; gaps become spaces)."""
    chunks = sorted(store.get(where={"source": source}),
                    key=lambda c: (int(c.metadata.get("start", 0) or 0), int(c.metadata.get("chunk_index", 0) or 0)))
    doc = ""
    for c in chunks:
        start = c.metadata.get("start")
        if start is None:
            continue
        start = int(start)
        body = c.body
        if start > len(doc):
            doc += " " * (start - len(doc))
        if start + len(body) > len(doc):
            doc = doc[:start] + body
    return doc


def _trim_before(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "…" + (cut[space + 1:] if 0 <= space < 40 else cut)


def _trim_after(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + "…"


def passage_in_context(store, citation, cache: dict | None = None) -> tuple[str, str, str]:
    """(before, passage, after) for a citation: the cited span plus surrounding document text."""
    passage = citation.text or ""
    start, end = getattr(citation, "start", None), getattr(citation, "end", None)
    if start is None or end is None:
        return "", passage, ""
    key = citation.source
    try:
        if cache is not None and key in cache:
            doc = cache[key]
        else:
            doc = document_text(store, citation.source)
            if cache is not None:
                cache[key] = doc
    except Exception:  # the cards are a convenience: fall back to the passage alone
        log.warning("could not rebuild %s for its source card", citation.source, exc_info=True)
        return "", passage, ""
    start, end = int(start), int(end)
    if doc[start:end] != passage.strip() and doc[start:end] != passage:
        return "", passage, ""
    before = re.sub(r"[ \t]{2,}", " ", doc[max(0, start - CONTEXT_CHARS * 2):start]).lstrip()
    after = re.sub(r"[ \t]{2,}", " ", doc[end:end + CONTEXT_CHARS * 2]).rstrip()
    return _trim_before(before, CONTEXT_CHARS), doc[start:end], _trim_after(after, CONTEXT_CHARS)


def _card(c, anchor: str, text_html: str, extra_class: str = "") -> str:
    """One source card: number, title, date, file, page, section, then ``text_html`` (already escaped)."""
    e = html.escape
    heading = getattr(c, "heading", None)
    date_label = getattr(c, "date_label", None) or c.date or "no date"
    pages = getattr(c, "page_label", None)
    return (
        f'<div class="src-card{" " + extra_class if extra_class else ""}" id="{e(anchor)}-{int(c.n)}" '
        f'data-source="{e(c.source)}">'
        f'<div class="src-head"><span class="src-n">[{int(c.n)}]</span>{e(c.title or c.source)}</div>'
        f'<div class="src-meta">{e(date_label)} · <code>{e(c.source)}</code>'
        + (f' · <span class="src-page">{e(pages)}</span>' if pages else "") + "</div>"
        + (f'<div class="src-section">Section: {e(heading)}</div>' if heading else "")
        + f'<p class="src-text">{text_html}</p></div>'
    )


def source_cards(store, citations, anchor: str) -> str:
    """HTML cards, one per citation, with the passage highlighted; all document text escaped."""
    if not citations:
        return '<p class="src-empty">No sources cited.</p>'
    cache: dict[str, str] = {}
    e = html.escape
    parts = []
    for c in citations:
        before, passage, after = passage_in_context(store, c, cache)
        parts.append(_card(c, anchor, f"{e(before)}<mark>{e(passage)}</mark>{e(after)}"))
    return "".join(parts)


def retrieved_cards(citations, anchor: str) -> str:
    """Provisional cards for the passages retrieval found, shown while the model writes; escaped.

    The passage alone, without the document text around it: rebuilding each document costs a store
    read per card, and the model waits for the page update before it writes its first token.
    """
    if not citations:
        return '<p class="src-empty">No passages retrieved.</p>'
    return "".join(_card(c, anchor, html.escape(c.text or ""), "src-retrieved") for c in citations)


def _source_group(turn: int, question: str, cards: str, status: str = "") -> str:
    """One answer's sources, open, under a summary naming the answer (and ``status``, if any)."""
    note = f'<span class="src-status"> · {html.escape(status)}</span>' if status else ""
    return (f'<details class="src-turn" open><summary>Answer {turn}: {html.escape(_first_line(question))}{note}'
            f'</summary>{cards}</details>')


def _folded(groups: list[str]) -> list[str]:
    """Earlier answers' source groups, collapsed (the newest answer's stays open above them)."""
    return [g.replace('<details class="src-turn" open>', '<details class="src-turn">', 1) for g in groups]


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


def _sources_panel(turns: list[str]) -> str:
    if not turns:
        return '<p class="src-empty">Sources cited in answers appear here.</p>'
    return '<div class="src-panel">' + "".join(turns) + "</div>"


# ----------------------------------------------------------------------------- shared state

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
    """Store + the configured chat model, built on first use and then reused."""
    from rag.answer import Answerer
    from rag.llm import make_llm

    store = default_store(settings)
    with _default_lock:
        if settings not in _default_answerers:
            _default_answerers[settings] = Answerer(store, make_llm(settings=settings), settings)
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


def _filters(sources: list[str] | None, date_from: str | None, date_to: str | None):
    from rag.retrieve import Filters, check_date_bound

    date_from, date_to = (date_from or "").strip() or None, (date_to or "").strip() or None
    for label, value in (("date from", date_from), ("date to", date_to)):
        if value:
            try:
                check_date_bound(value)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
    return Filters(tuple(sources or ()), date_from, date_to)


def _parse_history(history: Any) -> list[dict[str, str]]:
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


def _parse_sources(sources: Any) -> list[str]:
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


def _document_rows(ctx: AppContext) -> list[list[Any]]:
    return [[s.source, s.title, s.date_label or s.date or "", s.chunks] for s in ctx.sources()]


# ----------------------------------------------------------------------------- ingest

@dataclass
class UploadResult:
    added: list[str]
    rejected: list[tuple[str, str]]  # (file name, reason)
    summary: str


def ingest_uploads(store, settings: Settings, paths: list[str],
                   on_file: Callable[[int, int, str], None] | None = None) -> UploadResult:
    """Copy uploads into a temp dir under sanitised names, ingest them, report per file."""
    from ingest.pipeline import Ingestor

    tmp = Path(tempfile.mkdtemp(prefix="rag-upload-"))
    try:
        staged: list[Path] = []
        rejected: list[tuple[str, str]] = []
        by_path: dict[str, str] = {}
        for i, p in enumerate(paths):
            name = sanitize_filename(Path(str(p)).name)
            dest = tmp / str(i) / name
            dest.parent.mkdir()
            try:
                shutil.copyfile(str(p), dest)
            except OSError as exc:
                rejected.append((name, f"could not read the upload: {exc.strerror or exc}"))
                continue
            staged.append(dest)
            by_path[str(dest)] = name
        report = Ingestor(store, settings).run(staged, progress=False, on_file=on_file)
        for err in report.errors:
            rejected.append((by_path.get(err.path, Path(err.path).name), err.reason))
        added = [d.source for d in report.documents]
        return UploadResult(added, rejected, report.summary())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- the app

def build_app(settings: Settings, answerer_factory: Callable[[], Any] | None = None) -> gr.Blocks:
    """The Gradio Blocks app. ``answerer_factory`` (called once, lazily) replaces the default model."""
    if answerer_factory is None:
        ctx = AppContext(settings, lambda: default_answerer(settings), lambda: default_store(settings))
    else:
        ctx = AppContext(settings, answerer_factory)
    top_k_max = max(settings.top_k, min(settings.candidates, 20))
    downloads = tempfile.TemporaryDirectory(prefix="rag-briefings-")  # removed with the app (Gradio serves copies)

    def fresh_conversation() -> dict[str, list]:
        # turns: (question, answer) for the Markdown export (answers without their passages)
        return {"history": [], "display": [], "cards": [], "turns": []}

    # --- chat
    def accept(message: str, conv: dict):
        """Show the question at once (not queued); the answer step then waits for the model."""
        conv = conv or fresh_conversation()
        question = (message or "").strip()
        if not question:
            gr.Warning("Type a question first.")
            return gr.update(), "", gr.update()
        # the chatbot's own pending bubble and the queue position show while this waits for the model
        return conv["display"] + [{"role": "user", "content": answer_markdown(question)}], question, ""

    def chat(pending: str, conv: dict, sources: list[str], date_from: str, date_to: str,
             top_k: float) -> Iterator[tuple]:
        from rag.answer import Answer, Citation, Retrieved

        conv = conv or fresh_conversation()
        question = (pending or "").strip()
        if not question:
            yield gr.update(), conv, gr.update(), gr.update(), ""
            return
        display = conv["display"] + [{"role": "user", "content": answer_markdown(question)},
                                     {"role": "assistant", "content": WAITING}]
        yield display, conv, gr.update(), "", ""
        turn = len(conv["history"]) // 2 + 1
        anchor = f"src-{turn}"
        try:
            filters = _filters(sources, date_from, date_to)
            answerer = ctx.answerer()
            raw = ""
            final = None
            for event in answerer.stream(question, list(conv["history"]), filters, int(top_k or 0) or None):
                if isinstance(event, Answer):
                    final = event
                    break
                if isinstance(event, Retrieved):
                    if event.passages:  # none: the refusal follows at once
                        found = [Citation.from_passage(n, p) for n, p in enumerate(event.passages, start=1)]
                        group = _source_group(turn, question, retrieved_cards(found, f"ret-{turn}"),
                                              "retrieved, answer being written")
                        yield display, conv, _sources_panel([group] + _folded(conv["cards"])), "", ""
                    continue
                raw += str(event)
                display[-1] = {"role": "assistant", "content": answer_markdown(raw) + " ▍"}
                yield display, conv, gr.update(), "", ""
            if final is None:
                raise RuntimeError("the answer chain ended without an answer")
        except Exception as exc:  # shown in the page, never as a traceback
            msg = _error_text(exc)
            gr.Warning(msg)
            display[-1] = {"role": "assistant", "content": "⚠ " + _md_escape(f"Could not answer: {msg}")}
            conv = {**conv, "display": display}
            # the provisional cards go: no answer will cite them
            yield display, conv, _sources_panel(conv["cards"]), _status(msg), ""
            return
        numbers = {c.n for c in final.citations}
        content = answer_markdown(final.answer, anchor, numbers)
        dropped = getattr(final, "dropped", None) or []
        if dropped and not final.refused:
            content += f"\n\n*({len(dropped)} unsupported sentence{'s' if len(dropped) != 1 else ''} removed)*"
        timings = timings_html(final.timings)
        if timings:
            content += "\n\n" + timings
        display[-1] = {"role": "assistant", "content": content}
        cards = _source_group(turn, question, source_cards(ctx.store, final.citations, anchor))
        conv = {
            "history": conv["history"] + [{"role": "user", "content": question},
                                          {"role": "assistant", "content": final.answer}],
            "display": display,
            "turns": list(conv.get("turns", [])) + [(question, replace(final, passages=[], raw=""))],
            "cards": [cards] + _folded(conv["cards"]),
        }
        yield display, conv, _sources_panel(conv["cards"]), "", ""

    def new_conversation():
        return [], fresh_conversation(), _sources_panel([]), "", ""

    def export_conversation(conv: dict):
        """The conversation so far as a Markdown file behind the download button (hidden when empty)."""
        from rag.export import conversation_as_markdown

        turns = (conv or {}).get("turns") or []
        if not turns:
            return gr.update(value=None, visible=False)
        out_dir = Path(tempfile.mkdtemp(dir=downloads.name))
        path = out_dir / f"conversation-{_slug(turns[0][0])}.md"
        path.write_text(conversation_as_markdown(turns), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    # --- briefing
    def briefing(topic: str, timeline: bool, whole: bool, progress=gr.Progress()):
        topic = (topic or "").strip()
        if not topic and not whole and not timeline:
            gr.Warning("Enter a topic, or tick “whole collection”.")
            return gr.update(), gr.update(), gr.update(), _status("Enter a topic, or tick “whole collection”.")
        subject = None if whole else (topic or None)
        try:
            briefer = ctx.briefer()
            progress(0, desc="gathering passages")

            def report(msg: str) -> None:
                m = re.match(r"\[(\d+)/(\d+)\]", msg)
                if m:
                    progress((int(m.group(1)) - 1, int(m.group(2))), desc=msg)
                else:
                    progress(None, desc=msg)

            result = (briefer.timeline(subject, progress=report) if timeline
                      else briefer.briefing(subject, progress=report))
        except Exception as exc:
            msg = _error_text(exc)
            gr.Warning(msg)
            return gr.update(), gr.update(), gr.update(), _status(msg)
        numbers = {c.n for c in result.citations}
        shown = briefing_markdown(result.markdown, "bsrc", numbers)
        out_dir = Path(tempfile.mkdtemp(dir=downloads.name))
        kind = "timeline" if timeline else "briefing"
        path = out_dir / f"{kind}-{_slug(subject or 'collection')}.md"
        path.write_text(result.markdown, encoding="utf-8")
        cards = source_cards(ctx.store, result.citations, "bsrc") if result.citations else ""
        return (shown, gr.update(value=str(path), visible=True), cards,
                _status(f"{kind.capitalize()} ready: {len(result.citations)} sources.", ok=True))

    # --- documents
    def refresh_documents(selected: list[str] | None = None):
        try:
            rows = _document_rows(ctx)
            names = [r[0] for r in rows]
            note = f"{len(rows)} documents in the store." if rows else "The store is empty: upload documents below."
            keep = [s for s in (selected or []) if s in names]  # a removed document leaves the filter
            return (rows, gr.update(choices=names, value=None), gr.update(choices=names, value=keep), _md_escape(note))
        except Exception as exc:
            msg = _error_text(exc)
            return [], gr.update(choices=[]), gr.update(choices=[]), _status(msg)

    def upload(files: list[str] | None, selected: list[str] | None, progress=gr.Progress()):
        if not files:
            return (gr.update(),) * 5 + ("",)
        paths = [str(f) for f in (files if isinstance(files, list) else [files])]
        try:
            store = ctx.store
            progress(0, desc="ingesting")
            result = ingest_uploads(store, settings, paths,
                                    on_file=lambda i, n, name: progress((i, n), desc=f"ingesting {name}"))
        except Exception as exc:
            msg = _error_text(exc)
            gr.Warning(msg)
            return (gr.update(),) * 5 + (_status(msg),)
        lines = [f"**Ingested:** {_md_escape(result.summary)}"]
        lines += [f"- ✓ added {_md_escape(name)}" for name in result.added]
        lines += [f"- ✗ rejected {_md_escape(name)}: {_md_escape(reason)}" for name, reason in result.rejected]
        if result.rejected:
            gr.Warning(f"{len(result.rejected)} file(s) rejected: see the list below the upload box.")
        rows, remove_dd, sources_dd, note = refresh_documents(selected)
        return rows, remove_dd, sources_dd, note, None, "\n".join(lines)

    def remove(source: str | None, selected: list[str] | None):
        from ingest.pipeline import Ingestor

        if not source:
            gr.Warning("Choose a document to remove.")
            return (gr.update(),) * 4 + (_status("Choose a document to remove."),)
        try:
            n = Ingestor(ctx.store, settings).remove(source)
        except Exception as exc:
            msg = _error_text(exc)
            gr.Warning(msg)
            return (gr.update(),) * 4 + (_status(msg),)
        rows, remove_dd, sources_dd, note = refresh_documents(selected)
        msg = f"Removed {source} ({n} chunks)." if n else f"No document named {source} in the store."
        return rows, remove_dd, sources_dd, note, _status(msg, ok=bool(n))

    # --- API endpoints
    def ask(question: str, history: str = "[]", sources: str = "", date_from: str = "", date_to: str = "",
            top_k: int = 0) -> dict:
        """Answer a question with citations. history: JSON list of {"role","content"}; sources: JSON list or comma-separated."""
        try:
            answer = ctx.answerer().run(question, _parse_history(history),
                                        _filters(_parse_sources(sources), date_from, date_to), int(top_k or 0) or None)
        except Exception as exc:
            raise gr.Error(_error_text(exc)) from None
        out = answer.to_json()
        for c_json, c in zip(out.get("citations", []), answer.citations):
            c_json.setdefault("date_label", getattr(c, "date_label", None))
        return out

    def brief(topic: str = "", timeline: bool = False, whole: bool = False) -> dict:
        """A cited Markdown briefing (or timeline) on a topic or the whole collection."""
        topic = (topic or "").strip()
        if not topic and not whole and not timeline:
            raise gr.Error("give a topic, whole=True or timeline=True")
        try:
            briefer = ctx.briefer()
            subject = None if whole else (topic or None)
            result = briefer.timeline(subject) if timeline else briefer.briefing(subject)
        except Exception as exc:
            raise gr.Error(_error_text(exc)) from None
        return result.to_json()

    def list_sources() -> list[dict]:
        """Stored documents: source, title, date, date_label, chunks."""
        try:
            return [{"source": s.source, "title": s.title, "date": s.date, "date_label": s.date_label,
                     "chunks": s.chunks} for s in ctx.sources()]
        except Exception as exc:
            raise gr.Error(_error_text(exc)) from None

    # --- layout
    # delete_cache: uploads and downloads Gradio keeps are removed after a day (checked hourly)
    with gr.Blocks(title="Document briefings", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown("## Ask your documents\nCited answers and briefings from your own files, entirely offline.")
        conv = gr.State(fresh_conversation())  # per browser session: history, rendered messages, source cards
        pending = gr.State("")  # the question accepted but not yet answered
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chatbot",
                                             feedback_options=None, latex_delimiters=[], buttons=["copy"],
                                             placeholder="Ask a question about your documents.")
                        with gr.Row():
                            question = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=5,
                                                  elem_id="question", max_lines=6, submit_btn=False)
                            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                        with gr.Row():
                            new_conv = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                            conv_file = gr.DownloadButton("Download conversation (.md)", size="sm", visible=False,
                                                          elem_id="conversation-download")
                        chat_status = gr.Markdown(elem_id="chat-status")
                        with gr.Accordion("Filters", open=False):
                            source_filter = gr.Dropdown(label="Only these documents", multiselect=True,
                                                        choices=[], elem_id="source-filter")
                            with gr.Row():
                                date_from = gr.Textbox(label="Date from", placeholder="YYYY-MM-DD", elem_id="date-from")
                                date_to = gr.Textbox(label="Date to", placeholder="YYYY-MM-DD", elem_id="date-to")
                            top_k = gr.Slider(1, top_k_max, value=settings.top_k, step=1,
                                              label="Passages shown to the model", elem_id="top-k")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        sources_html = gr.HTML(_sources_panel([]), elem_id="sources", js_on_load=None)
            with gr.Tab("Briefing", id="briefing"):
                with gr.Row():
                    topic = gr.Textbox(label="Topic", placeholder="e.g. Lavrov's visits to Belarus", scale=4,
                                       elem_id="topic")
                    with gr.Column(scale=1, min_width=160):
                        timeline = gr.Checkbox(label="Timeline", elem_id="timeline")
                        whole = gr.Checkbox(label="Whole collection", elem_id="whole")
                brief_btn = gr.Button("Write briefing", variant="primary", elem_id="brief-btn")
                brief_status = gr.Markdown(elem_id="brief-status")
                brief_md = gr.Markdown(elem_id="briefing", latex_delimiters=[])
                brief_file = gr.DownloadButton("Download Markdown", visible=False, elem_id="brief-download")
                brief_cards = gr.HTML("", elem_id="brief-sources", js_on_load=None)
            with gr.Tab("Documents", id="documents"):
                docs_note = gr.Markdown(elem_id="docs-note")
                docs = gr.Dataframe(headers=["source", "title", "date", "chunks"], datatype=["str", "str", "str", "number"],
                                    interactive=False, wrap=True, elem_id="documents-table", type="array",
                                    column_count=4, column_widths=["24%", "50%", "17%", "9%"])
                refresh = gr.Button("Refresh", size="sm")
                files = gr.File(label="Add documents (.txt, .md, .html, .pdf, .docx)", file_count="multiple",
                                file_types=UPLOAD_TYPES, elem_id="upload")
                upload_status = gr.Markdown(elem_id="upload-status")
                with gr.Row():
                    remove_choice = gr.Dropdown(label="Remove a document", choices=[], elem_id="remove-choice", scale=4)
                    remove_btn = gr.Button("Remove", variant="stop", scale=1, elem_id="remove-btn")
                remove_status = gr.Markdown(elem_id="remove-status")

        chat_outputs = [chatbot, conv, sources_html, chat_status, pending]
        gr.on([question.submit, send.click], accept, inputs=[question, conv], outputs=[chatbot, pending, question],
              queue=False, api_visibility="private", show_progress="hidden").then(
            chat, inputs=[pending, conv, source_filter, date_from, date_to, top_k], outputs=chat_outputs,
            concurrency_id=WORK, concurrency_limit=1, api_visibility="private", show_progress_on=[chatbot]).then(
            export_conversation, inputs=[conv], outputs=[conv_file], concurrency_limit=None, api_visibility="private",
            show_progress="hidden")
        new_conv.click(new_conversation, outputs=chat_outputs, queue=False, api_visibility="private").then(
            export_conversation, inputs=[conv], outputs=[conv_file], queue=False, api_visibility="private")
        chatbot.clear(new_conversation, outputs=chat_outputs, queue=False, api_visibility="private").then(
            export_conversation, inputs=[conv], outputs=[conv_file], queue=False, api_visibility="private")
        brief_btn.click(briefing, inputs=[topic, timeline, whole], outputs=[brief_md, brief_file, brief_cards, brief_status],
                        concurrency_id=WORK, concurrency_limit=1, api_visibility="private")
        doc_outputs = [docs, remove_choice, source_filter, docs_note]
        app.load(refresh_documents, inputs=[source_filter], outputs=doc_outputs, concurrency_limit=None,
                 api_visibility="private")
        refresh.click(refresh_documents, inputs=[source_filter], outputs=doc_outputs, concurrency_limit=None,
                      api_visibility="private")
        files.upload(upload, inputs=[files, source_filter], outputs=doc_outputs + [files, upload_status],
                     concurrency_id=WORK, concurrency_limit=1, api_visibility="private")
        remove_btn.click(remove, inputs=[remove_choice, source_filter], outputs=doc_outputs + [remove_status],
                         concurrency_id=WORK, concurrency_limit=1, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_id=WORK, concurrency_limit=1)
        gr.api(brief, api_name="brief", concurrency_id=WORK, concurrency_limit=1)
        gr.api(list_sources, api_name="sources", concurrency_limit=None)

    app.queue(default_concurrency_limit=1)
    app.rag_context = ctx  # for tests and embedding
    app.rag_downloads = downloads  # keeps the directory alive as long as the app
    return app


def theme() -> gr.themes.Base:
    """Default look with system fonts only (no font files fetched from anywhere)."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])


def launch(app: gr.Blocks, settings: Settings, host: str = "127.0.0.1", port: int | None = 7860,
           auth: str | tuple[str, str] | None = None, prevent_thread_lock: bool = False, quiet: bool = False):
    """Start the server with the app's privacy and safety options; returns (fastapi_app, local_url, share_url)."""
    credentials = parse_auth(auth)
    if not is_loopback(host) and credentials is None:
        raise ValueError(f"refusing to serve on {host} without a password: pass --auth USER:PASSWORD "
                         "(or RAG_AUTH), or bind to 127.0.0.1")
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
    """Serve the app (blocking). Off loopback a ``USER:PASSWORD`` auth is required."""
    credentials = parse_auth(auth)
    if not is_loopback(host) and credentials is None:
        raise ValueError(f"refusing to serve on {host} without a password: pass --auth USER:PASSWORD "
                         "(or RAG_AUTH), or bind to 127.0.0.1")
    from rag.store import StoreError

    try:
        store = default_store(settings)
        if ingest_seeds is not None and store.count() == 0:
            from ingest.pipeline import Ingestor

            print(f"the store at {store.location} is empty: ingesting {ingest_seeds} first", file=sys.stderr)
            report = Ingestor(store, settings).run([Path(ingest_seeds)], progress=True)
            for err in report.errors:
                print(f"error: {err}", file=sys.stderr)
            print(report.summary(), file=sys.stderr)
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    app = build_app(settings)
    launch(app, settings, host=host, port=port, auth=credentials)


__all__ = ["build_app", "serve", "launch", "sanitize_filename", "ingest_uploads", "source_cards", "retrieved_cards",
           "timings_html", "theme"]
