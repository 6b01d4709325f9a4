"""Command line: ``rag ingest | remove | sources | ask | brief | chat | serve``.

Results go to stdout; logs, progress bars and errors go to stderr.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from rag.config import PROJECT_ROOT, Settings, offline_environment
from rag.embed import ENCODERS, MODEL_NAME

DEFAULT_SEEDS = PROJECT_ROOT / "seeds"


def _settings(store: str | None, llm: str | None = None, chroma_url: str | None = None, **extra: Any) -> Settings:
    try:
        return Settings.from_env(store_dir=store, llm=llm, chroma_url=chroma_url, **extra)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _open_store(settings: Settings, create: bool):
    from rag.store import Store, StoreError

    try:
        return Store(settings, create=create)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


store_option = click.option("--store", "store", envvar="RAG_STORE", type=click.Path(file_okay=False),
                            help="Chroma store directory (env RAG_STORE; default ./data/store).")
chroma_option = click.option("--chroma-url", envvar="RAG_CHROMA_URL", default=None,
                             help="Use a Chroma server (`chroma run`) instead of a local directory.")
llm_option = click.option("--llm", envvar="RAG_LLM", default=None,
                          help="local (default) | gguf:/path/model.gguf | openai:MODEL (OPENAI_BASE_URL, OPENAI_API_KEY).")
threads_option = click.option("--threads", type=int, default=None, help="CPU threads for the local model (default 2).")
host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug information to stderr.")
def main(verbose: bool) -> None:
    """Ask questions about your documents and get cited answers and briefings, offline."""
    # first, before any command imports chromadb, transformers or gradio (all imported lazily below)
    offline_environment()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@store_option
@chroma_option
@click.option("--encoder", envvar="RAG_ENCODER", type=click.Choice(ENCODERS), default=None,
              help="Embedding encoder of a new store (default onnx-int8); an existing store keeps the one it records.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--watch", "watch", is_flag=True,
              help="Keep the store in step with the given folders until Ctrl-C: sync them, then ingest new and "
                   "changed files and remove deleted ones (ingest/watch.py).")
def ingest(paths: tuple[Path, ...], store: str | None, chroma_url: str | None, encoder: str | None, quiet: bool,
           watch: bool) -> None:
    """Ingest files or folders (default: the bundled seeds/); --watch keeps following folders."""
    from ingest.pipeline import Ingestor

    not_dirs = [str(p) for p in paths if not p.is_dir()]
    if watch and (not paths or not_dirs):
        raise click.UsageError(f"--watch takes folders, not {', '.join(not_dirs)}" if not_dirs
                               else "--watch needs one or more folders")
    settings = _settings(store, chroma_url=chroma_url, encoder=encoder)
    st = _open_store(settings, create=True)
    if not quiet:
        click.echo(f"store {st.location}: {st.count()} chunks, embedded with {MODEL_NAME} {st.encoder}", err=True)
    if watch:
        _watch(paths, Ingestor(st, settings), quiet)
    report = Ingestor(st, settings).run(list(paths) or [DEFAULT_SEEDS], progress=not quiet)
    for err in report.errors:
        click.echo(f"error: {err}", err=True)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


def _watch(folders: tuple[Path, ...], ingestor, quiet: bool) -> None:
    """`rag ingest --watch`: one line per file on stderr, the session's summary on stdout at Ctrl-C."""
    from ingest.watch import watch

    click.echo(f"watching {', '.join(str(f) for f in folders)} (Ctrl-C to stop)", err=True)
    report = watch(folders, ingestor, on_event=lambda line: click.echo(line, err=True), progress=not quiet)
    click.echo(f"stopped watching: {report.summary()}")
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("source")
@store_option
@chroma_option
def remove(source: str, store: str | None, chroma_url: str | None) -> None:
    """Delete a stored document (by its source file name) and all its chunks."""
    from ingest.pipeline import Ingestor

    settings = _settings(store, chroma_url=chroma_url)
    st = _open_store(settings, create=False)
    n = Ingestor(st, settings).remove(source)
    if n == 0:
        known = ", ".join(s.source for s in st.sources()) or "none"
        raise click.ClickException(f"no document named {source!r} in the store (stored: {known})")
    click.echo(f"removed {source}: {n} chunks")


@main.command()
@store_option
@chroma_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
def sources(store: str | None, chroma_url: str | None, as_json: bool) -> None:
    """List stored documents: source, title, date, chunk count."""
    settings = _settings(store, chroma_url=chroma_url)
    rows = _open_store(settings, create=False).sources()
    if as_json:
        for r in rows:
            click.echo(json.dumps({"source": r.source, "title": r.title, "date": r.date, "chunks": r.chunks}))
        return
    if not rows:
        click.echo("the store is empty: run `rag ingest PATH`", err=True)
        return
    for r in rows:
        click.echo(f"{r.source}\t{r.title}\t{r.date_label or 'no date'}\t{r.chunks} chunks")


def _answerer(settings: Settings):
    """:func:`rag.answer.build_answerer` with the CLI's messages: a missing or empty store and a
    model that cannot be built are one-line errors (the store is checked before the model loads)."""
    from rag.answer import build_answerer
    from rag.llm import make_llm

    st = _open_store(settings, create=False)
    if st.count() == 0:
        raise click.ClickException(f"the store at {st.location} is empty: run `rag ingest PATH` first")
    try:
        llm = make_llm(settings=settings)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None
    return build_answerer(settings, store=st, llm=llm)


def _model_failure(exc: Exception, settings: Settings) -> click.ClickException:
    """One line for a failing model backend (server down, HTTP error); the traceback only with -v."""
    import os

    logging.getLogger(__name__).debug("the language model failed", exc_info=exc)
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if settings.llm.startswith("openai:"):
        base = os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
        kind = "cannot reach" if "connect" in what.lower() or "timeout" in what.lower() else "error from"
        return click.ClickException(f"{kind} the LLM server at {base} (--llm {settings.llm}): {what}; "
                                    "is it running, and is OPENAI_BASE_URL right?")
    return click.ClickException(f"the language model ({settings.llm}) failed: {what}")


def _filters(source: tuple[str, ...], date_from: str | None, date_to: str | None):
    from rag.retrieve import Filters

    return Filters(tuple(source), date_from, date_to)


def _check_date(ctx, param, value: str | None) -> str | None:
    """--from/--to must be a real calendar date: checked before the store or the model is touched."""
    from rag.retrieve import check_date_bound

    if value is None:
        return None
    try:
        return check_date_bound(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


filter_options = [
    click.option("--source", multiple=True, help="Only search this source file (repeatable)."),
    click.option("--from", "date_from", default=None, callback=_check_date,
                 help="Only documents dated on/after YYYY[-MM[-DD]]."),
    click.option("--to", "date_to", default=None, callback=_check_date,
                 help="Only documents dated on/before YYYY[-MM[-DD]]."),
    click.option("-k", "--top-k", type=int, default=None, help="Passages shown to the model."),
]


def _add(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f
    return deco


@main.command()
@click.argument("questions", nargs=-1)
@store_option
@chroma_option
@llm_option
@threads_option
@_add(filter_options)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question on stdout; reads stdin if no QUESTION.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Each answer as Markdown (question heading, answer with [n] marks, Sources with quoted passages); reads stdin if no QUESTION.")
def ask(questions: tuple[str, ...], store, chroma_url, llm, threads, source, date_from, date_to, top_k, as_json,
        as_markdown) -> None:
    """Answer QUESTION(s) with cited passages."""
    if as_json and as_markdown:
        raise click.UsageError("--json and --markdown cannot be combined")
    settings = _settings(store, llm, chroma_url, n_threads=threads)
    qs = list(questions)
    if not qs:
        if not as_json and not as_markdown:
            raise click.UsageError("give a QUESTION (or --json / --markdown to read questions from stdin)")
        qs = [line.strip() for line in sys.stdin if line.strip()]
    answerer = _answerer(settings)
    filters = _filters(source, date_from, date_to)
    failed = False
    printed = 0
    for q in qs:
        try:
            ans = answerer.run(q, filters=filters, top_k=top_k)
        except (ValueError, LookupError) as exc:
            failed = True
            if as_json:
                click.echo(json.dumps({"question": q, "error": str(exc)}))
            else:
                click.echo(f"error: {exc}", err=True)
            continue
        except Exception as exc:  # the model backend failed: every further question would fail alike
            raise _model_failure(exc, settings) from None
        if as_json:
            click.echo(json.dumps(ans.to_json(), ensure_ascii=False))
            sys.stdout.flush()
            continue
        if as_markdown:
            from rag.export import answer_as_markdown

            click.echo(("\n" if printed else "") + answer_as_markdown(q, ans), nl=False)
            sys.stdout.flush()
            printed += 1
            continue
        click.echo(ans.answer)
        if ans.citations:
            click.echo("")
        for c in ans.citations:
            pages = f" — {c.page_label}" if c.page_label else ""
            click.echo(f"[{c.n}] {c.title or c.source} — {c.date_label or 'no date'} — {c.source}{pages}")
            click.echo("    " + c.text.strip().replace("\n", "\n    "))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("topic", required=False)
@click.option("--all", "whole", is_flag=True, help="Brief on the whole collection.")
@click.option("--timeline", is_flag=True, help="Dated events in chronological order.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown briefing here.")
@click.option("--json", "as_json", is_flag=True, help="Print {topic, briefing, citations} as JSON.")
@store_option
@chroma_option
@llm_option
@threads_option
def brief(topic, whole, timeline, out, as_json, store, chroma_url, llm, threads) -> None:
    """A cited Markdown briefing on TOPIC (or --all), or a --timeline."""
    from rag.brief import Briefer

    if not topic and not whole and not timeline:
        raise click.UsageError("give a TOPIC, --all or --timeline")
    settings = _settings(store, llm, chroma_url, n_threads=threads)
    answerer = _answerer(settings)
    briefer = Briefer(answerer)
    progress = lambda msg: click.echo(msg, err=True)  # noqa: E731
    try:
        result = (briefer.timeline(topic, progress=progress) if timeline
                  else briefer.briefing(None if whole else topic, progress=progress))
    except (ValueError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise _model_failure(exc, settings) from None
    if out:
        out.write_text(result.markdown, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    elif not out:
        click.echo(result.markdown)


@main.command()
@store_option
@chroma_option
@llm_option
@threads_option
@host_option
@click.option("--port", default=7860, show_default=True, type=int)
# no click envvar: RAG_AUTH is read by Settings (its `auth` field), with every other RAG_* variable
@click.option("--auth", default=None, help="USER:PASSWORD (required off loopback; env RAG_AUTH).")
@click.option("--ingest-seeds/--no-ingest-seeds", default=True, help="Ingest seeds/ first if the store is empty.")
def chat(store, chroma_url, llm, threads, host, port, auth, ingest_seeds) -> None:
    """Serve the chat app (Gradio) over the stored documents."""
    from rag.app import serve

    settings = _settings(store, llm, chroma_url, n_threads=threads)
    try:
        if auth:  # the flag wins over RAG_AUTH; a malformed one is refused like a refused bind (exit 1)
            settings = settings.with_(auth=auth)
        serve(settings, host=host, port=port, ingest_seeds=DEFAULT_SEEDS if ingest_seeds else None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("serve")
@store_option
@chroma_option
@llm_option
@threads_option
@host_option
@click.option("--port", default=8000, show_default=True, type=int)
# no click envvar: RAG_API_KEY is read by Settings (its `api_key` field)
@click.option("--api-key", default=None,
              help="Key clients must send as 'Authorization: Bearer KEY' (required off loopback; env RAG_API_KEY).")
def serve_api(store, chroma_url, llm, threads, host, port, api_key) -> None:
    """Serve an OpenAI-compatible API (/v1/chat/completions, /v1/models) over the stored documents."""
    from rag import serve as api

    settings = _settings(store, llm, chroma_url, n_threads=threads, api_key=api_key or None)  # "": no key
    try:
        api.check_bind(host, settings.api_key)  # before the model is loaded
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    answerer = _answerer(settings)
    api.run(lambda: answerer, settings, host=host, port=port, api_key=settings.api_key)


if __name__ == "__main__":
    main()
