"""The web app's named API endpoints (through gradio_client), its start-up guards and its helpers."""
from __future__ import annotations

import html
import json
import threading
import time

import pytest
from fakes import QueuedChatModel

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # inside gradio's queue
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

from rag.app import (answer_markdown, briefing_markdown, build_app, ingest_uploads, is_loopback, launch, parse_auth,
                     retrieved_cards, sanitize_filename, serve, source_cards, timings_html)


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    _, url = served
    return Client(url, verbose=False, download_files=False)


# --- API endpoints

def test_ask_returns_a_cited_answer_with_sources(client, seed_qa):
    question, answer = seed_qa
    out = client.predict(question, "[]", api_name="/ask")
    assert out["question"] == question
    assert out["answer"] == answer and not out["refused"]
    [c] = out["citations"]
    assert c["n"] == 1 and c["source"] == "000_e3a7af6ccd77722d.txt"
    assert "Ryzhenkov" in c["text"] and c["title"]
    assert c["date_label"] == "22 November (year unknown)"


def test_ask_passes_history_to_the_model(client, fake_llm):
    history = [{"role": "user", "content": "Who is Maxim Ryzhenkov?"},
               {"role": "assistant", "content": "Belarus's foreign minister [1]."}]
    before = len(fake_llm.prompts)
    client.predict("Where did they meet?", json.dumps(history), api_name="/ask")
    prompts = ["\n".join(str(m.content) for m in p) for p in fake_llm.prompts[before:]]
    assert any("Who is Maxim Ryzhenkov?" in p for p in prompts), "the follow-up was not rewritten with the history"


def test_ask_with_source_filter_only_cites_that_source(client):
    out = client.predict("Who did Lavrov meet?", "[]", "001_f63a187ba6a0d519.txt", api_name="/ask")
    assert all(c["source"] == "001_f63a187ba6a0d519.txt" for c in out["citations"])


def test_ask_errors_are_messages_not_tracebacks(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict("Who?", "[]", "", "22 Nov", api_name="/ask")
    assert "YYYY-MM-DD" in str(err.value) and "Traceback" not in str(err.value)
    with pytest.raises(AppError, match="empty question"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="history is not JSON"):
        client.predict("Who?", "[not json", api_name="/ask")


def test_sources_endpoint_lists_documents(client):
    rows = client.predict(api_name="/sources")
    assert len(rows) == 5
    assert {"source", "title", "date", "date_label", "chunks"} <= set(rows[0])


def test_brief_timeline_endpoint_returns_markdown(client):
    out = client.predict("", True, True, api_name="/brief")
    assert out["briefing"].startswith("# Timeline")
    assert "## Sources" in out["briefing"] and out["citations"]


def test_model_requests_run_one_at_a_time(seed_settings, free_port):
    """Two simultaneous /ask calls never overlap inside the model (default_concurrency_limit=1)."""
    from gradio_client import Client

    from rag.answer import Answerer
    from rag.store import Store

    class SlowModel(QueuedChatModel):
        def _stream(self, messages, stop=None, run_manager=None, **kw):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                time.sleep(0.4)
                yield from super()._stream(messages, stop, run_manager, **kw)
            finally:
                with lock:
                    active[0] -= 1

    lock, active, peak = threading.Lock(), [0], [0]
    store = Store(seed_settings, create=False)
    llm = SlowModel(answers=["Lavrov met Maxim Ryzhenkov in Brest [1]."])
    app = build_app(seed_settings, answerer_factory=lambda: Answerer(store, llm, seed_settings))
    _, url, _ = launch(app, seed_settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=False)
        jobs = [client.submit("Who did Lavrov meet in Brest?", "[]", api_name="/ask") for _ in range(3)]
        results = [job.result(timeout=60) for job in jobs]
    finally:
        app.close()
    assert all(r["citations"] for r in results)
    assert peak[0] == 1


# --- start-up guards

def test_serve_refuses_a_public_host_without_auth(seed_settings):
    with pytest.raises(ValueError, match="--auth USER:PASSWORD"):
        serve(seed_settings, host="0.0.0.0", port=1)
    with pytest.raises(ValueError, match="USER:PASSWORD"):
        serve(seed_settings, host="0.0.0.0", port=1, auth="nopassword")


def test_serve_ingests_seeds_into_an_empty_store_then_launches(tmp_path, monkeypatch, capsys, request):
    import rag.llm
    import rag.web.server
    from rag.config import Settings

    launched = {}

    def fake_launch(app, settings, host, port, auth, **kw):
        launched.update(app=app, host=host, port=port, auth=auth)

    def no_model(arg, settings):
        raise AssertionError("the model must not be built before a question is asked")

    monkeypatch.setattr(rag.web.server, "launch", fake_launch)
    # chosen as a user chooses a model (the llm setting), registered through the plugin hook
    request.addfinalizer(rag.llm.register_llm("refuse", no_model))
    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="", llm="refuse")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.txt").write_text("Minsk talks\n\nThe ministers met in Minsk on 3 March 2021 to discuss trade.\n")
    serve(settings, host="0.0.0.0", port=7999, auth="ann:secret", ingest_seeds=seeds)
    assert launched["host"] == "0.0.0.0" and launched["auth"] == ("ann", "secret")
    assert [s.source for s in launched["app"].rag_context.sources()] == ["note.txt"]
    assert "ingesting" in capsys.readouterr().err
    serve(settings, ingest_seeds=tmp_path / "does-not-matter")  # not empty any more: nothing ingested
    assert [s.source for s in launched["app"].rag_context.sources()] == ["note.txt"]


def test_loopback_detection_and_auth_parsing():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    assert parse_auth(None) is None
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ValueError):
            parse_auth(bad)


# --- helpers

@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
    ("/abs/path/report.md", "report.md"),
    ("Отчёт о визите 2024.txt", "Отчёт о визите 2024.txt"),
    ("東京 メモ.md", "東京 メモ.md"),
    ("  my notes .txt ", "my notes.txt"),
    ("two  spaces in name.md", "two  spaces in name.md"),
    ("tab\there.txt", "tabhere.txt"),
    ("bad\x00name\x1b[31m\n.txt", "badname[31m.txt"),
    ("what?<x>:\"y\"|*.html", "what__x___y___.html"),
    (".hidden.txt", "hidden.txt"),
    ("..", "upload"),
    ("", "upload"),
    ("a/b/", "upload"),
])
def test_sanitize_filename(raw, safe):
    assert sanitize_filename(raw) == safe


def test_sanitize_filename_keeps_the_suffix_of_long_names():
    name = sanitize_filename("я" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode("utf-8")) <= 200


def test_rendered_text_is_escaped():
    md = answer_markdown('<img src="http://example.com/x.png"> ![x](http://example.com/y.png) ok [1].',
                         "src-1", {1})
    assert "<img" not in md and "&lt;img" in md
    assert "](http" not in md.replace("\\](", "")  # no Markdown image or link survives
    assert '<a class="cite" href="#src-1-1"' in md
    brief = briefing_markdown("# T\n\n- <script>alert(1)</script> [2].\n\n## Sources\n", "bsrc", {2})
    assert "<script>" not in brief and brief.startswith("# T") and 'href="#bsrc-2"' in brief


def test_source_card_highlights_the_passage_in_context_and_escapes(seed_store):
    from rag.answer import Citation

    chunk = seed_store.chunks_of("000_e3a7af6ccd77722d.txt")[1]
    m = chunk.metadata
    cite = Citation(n=3, source=m["source"], title="<b>T</b>", date=m.get("date"), chunk_id=chunk.id, text=chunk.body,
                    date_label=m.get("date_label"), heading=m.get("heading") or None, start=m["start"], end=m["end"])
    card = source_cards(seed_store, [cite], "src-2")
    assert 'id="src-2-3"' in card and "&lt;b&gt;T&lt;/b&gt;" in card and "<b>T</b>" not in card
    before, rest = card.split("<mark>", 1)
    passage, after = rest.split("</mark>", 1)
    assert html.unescape(passage) == chunk.body
    assert before.rsplit('class="src-text">', 1)[1].strip(), "no text before the passage"
    assert after.split("</p>", 1)[0].strip(), "no text after the passage"


def test_source_card_shows_the_page_of_a_pdf_passage(pdf_store):
    from rag.answer import Citation

    chunk = next(c for c in pdf_store.get(where={"source": "water_report.pdf"}) if "Varenik" in c.body)
    m = chunk.metadata
    cite = Citation(n=1, source=m["source"], title=m["title"], date=None, chunk_id=chunk.id, text=chunk.body,
                    start=m["start"], end=m["end"], page=m["page"], page_end=m.get("page_end"))
    card = source_cards(pdf_store, [cite], "src-1")
    assert '<div class="src-meta">no date · <code>water_report.pdf</code> · <span class="src-page">p. 3</span></div>' in card
    assert html.unescape(card.split("<mark>", 1)[1].split("</mark>", 1)[0]) == chunk.body
    spanning = Citation(n=2, source="b.pdf", title="B", date=None, chunk_id="z", text="t", page=3, page_end=4)
    assert "pp. 3–4" in source_cards(pdf_store, [spanning], "src-1")
    text_chunk = pdf_store.get(where={"source": "000_e3a7af6ccd77722d.txt"})[0]
    plain = Citation(n=1, source="000_e3a7af6ccd77722d.txt", title="T", date=None, chunk_id=text_chunk.id,
                     text=text_chunk.body)
    assert "src-page" not in source_cards(pdf_store, [plain], "src-1")


def test_retrieved_cards_show_the_passage_alone_escaped_under_their_own_ids():
    from rag.answer import Citation

    found = [Citation(n=1, source="a<b>.txt", title="<i>T</i>", date=None, chunk_id="x", text="Talks <script>x</script>",
                      start=0, end=24),
             Citation(n=2, source="b.pdf", title="B", date="2021-03-03", chunk_id="y", text="Grain", page=3)]
    cards = retrieved_cards(found, "ret-2")
    assert 'id="ret-2-1"' in cards and 'id="ret-2-2"' in cards
    assert cards.count('class="src-card src-retrieved"') == 2
    assert "<script>" not in cards and "<i>" not in cards and "&lt;script&gt;" in cards and "a&lt;b&gt;.txt" in cards
    assert "<mark>" not in cards  # nothing is cited yet: no passage is highlighted
    assert '<span class="src-page">p. 3</span>' in cards
    assert "No passages retrieved" in retrieved_cards([], "ret-1")


def test_timings_are_a_collapsed_list_in_ms_below_a_second():
    out = timings_html({"total_ms": 4012.4, "retrieve_ms": 41.6, "generate_ms": 2100.0, "first_token_ms": 1890.2,
                        "verify_ms": 12.3, "<odd>_ms": 5.0})
    assert out.startswith('<details class="answer-timings"><summary>Timings</summary>') and " open" not in out
    assert "\n" not in out  # one HTML block for the chat's Markdown
    items = out.split("<ul>", 1)[1].split("</ul>", 1)[0].replace("</li>", "").split("<li>")[1:]
    assert items == ["retrieval: 42 ms", "first token: 1.89 s", "generation: 2.10 s", "verification: 12 ms",
                     "total: 4.01 s", "&lt;odd&gt;: 5 ms"]
    # refused before generation: only the steps that ran
    assert "first token" not in timings_html({"retrieve_ms": 30.0, "generate_ms": 0.0, "total_ms": 31.0})
    assert timings_html({}) == ""


def test_ingest_uploads_sanitises_names_and_reports_rejections(tmp_path):
    from rag.config import Settings
    from rag.store import Store

    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="")
    store = Store(settings)
    up = tmp_path / "up"
    up.mkdir()
    good = up / "Заметки о встрече.txt"
    good.write_text("Meeting notes\n\nThe delegation met in Minsk on 3 March 2021 to discuss trade.\n", encoding="utf-8")
    empty = up / "empty.txt"
    empty.write_text("")
    odd = up / "x.odt"
    odd.write_bytes(b"PK\x03\x04")
    seen = []
    result = ingest_uploads(store, settings, [str(good), str(empty), str(odd)], on_file=lambda i, n, name: seen.append(name))
    assert result.added == ["Заметки о встрече.txt"]
    reasons = dict(result.rejected)
    assert reasons["empty.txt"] == "empty file"
    assert "unsupported file type .odt" in reasons["x.odt"]
    assert [s.source for s in store.sources()] == ["Заметки о встрече.txt"]
    assert len(seen) == 3


def test_upload_types_match_what_ingest_supports():
    from ingest.load import SUPPORTED_SUFFIXES

    from rag.app import UPLOAD_TYPES

    assert set(UPLOAD_TYPES) == SUPPORTED_SUFFIXES
