"""``rag serve``: the OpenAI-compatible endpoint, served for real by uvicorn on 127.0.0.1.

A real Chroma store ingested from two seed documents, a fake chat model (QueuedChatModel with a
delay, a failure switch and a count of overlapping calls), the official ``openai`` client for the
happy paths and plain httpx for the wire format and the error bodies.
"""
from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from fakes import QueuedChatModel

from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
BREST = "000_e3a7af6ccd77722d.txt"
OTHER = "002_e0b109478491a41f.txt"
BREST_TITLE = "Lavrov Visit to Belarus Underlines Common Unity in Belarus-Russia Union State"
QUESTION = "Who did Lavrov meet in Brest?"
BREST_ANSWER = "Lavrov met Maxim Ryzhenkov in Brest [1]."
# the second sentence is supported by no passage: verification drops it (and its [2]) before anything is sent
RAW_ANSWER = BREST_ANSWER + " Penguins sang opera on the moon [2]."
MAX_MESSAGES = 6
MAX_CHARS = 300


class RecordingChatModel(QueuedChatModel):
    """QueuedChatModel that can think for ``delay`` seconds, fail, and pause between streamed
    chunks; ``max_active`` is the most calls that ever ran at once."""

    delay: float = 0.0
    chunk_delay: float = 0.0
    fail: bool = False
    active: int = 0
    max_active: int = 0

    def _next(self, messages):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.fail:
                raise RuntimeError("the backend exploded")
            return super()._next(messages)
        finally:
            self.active -= 1

    def _stream(self, messages, stop=None, run_manager=None, **kw):
        for chunk in super()._stream(messages, stop, run_manager, **kw):
            if self.chunk_delay:
                time.sleep(self.chunk_delay)
            yield chunk


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A create_app() app run by uvicorn in a background thread."""

    def __init__(self, settings: Settings, model: RecordingChatModel, api_key: str | None = None) -> None:
        import uvicorn

        from rag.answer import Answerer
        from rag.serve import create_app
        from rag.store import Store

        self.model = model
        self.factory_calls = 0

        def factory():
            self.factory_calls += 1
            return Answerer(Store(settings, create=False), model, settings)

        self.app = create_app(factory, settings, api_key=api_key)
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def client(self, api_key: str = "unused") -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    """A real store ingested from two seed documents, with small request limits."""
    from ingest.pipeline import Ingestor
    from rag.store import Store

    docs = tmp_path_factory.mktemp("serve-docs")
    for name in (BREST, OTHER):
        shutil.copy(SEEDS / name, docs / name)
    settings = Settings.from_env(store_dir=tmp_path_factory.mktemp("serve-store") / "store", chroma_url="",
                                 serve_max_messages=MAX_MESSAGES, serve_max_message_chars=MAX_CHARS)
    report = Ingestor(Store(settings), settings).run([docs], progress=False)
    assert report.ok and report.added > 0
    return settings


@pytest.fixture(scope="module")
def served(settings):
    srv = Served(settings, RecordingChatModel(answers=[RAW_ANSWER]))
    yield srv
    srv.stop()


@pytest.fixture
def fake(served) -> RecordingChatModel:
    """The served model, reset: answers RAW_ANSWER, no prompts, no delay, no failure."""
    m = served.model
    m.answers = [RAW_ANSWER]
    m.prompts.clear()
    m.delay = m.chunk_delay = 0.0
    m.fail = False
    m.max_active = 0
    return m


def _words(text: str) -> str:
    return " ".join(text.split())


def check_citations(citations) -> None:
    """One citation: the Brest passage, quoted as ingested."""
    assert isinstance(citations, list) and len(citations) == 1, citations
    c = citations[0]
    assert set(c) == {"n", "source", "title", "date", "date_label", "page", "page_end", "chunk_id", "text"}
    assert c["n"] == 1
    assert c["source"] == BREST
    assert c["title"] == BREST_TITLE
    assert c["date"] == "--11-22"
    assert c["date_label"] == "22 November (year unknown)"
    assert c["page"] is None and c["page_end"] is None  # a .txt document has no pages
    assert c["chunk_id"]
    assert "Maxim Ryzhenkov" in c["text"] and "Brest" in c["text"]
    # the quoted text is the document's own text
    assert _words(c["text"]) in _words((SEEDS / BREST).read_text(encoding="utf-8"))


# --- the openai client


def test_models_list(served):
    client = served.client()
    assert [m.id for m in client.models.list()] == ["rag-briefing"]
    assert client.models.retrieve("rag-briefing").id == "rag-briefing"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-4o")
    assert err.value.body["code"] == "model_not_found"


def test_completion_plain(served, fake):
    resp = served.client().chat.completions.create(model="rag-briefing",
                                                   messages=[{"role": "user", "content": QUESTION}])
    assert resp.object == "chat.completion"
    assert resp.model == "rag-briefing"
    assert resp.id.startswith("chatcmpl-")
    (choice,) = resp.choices
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    # the verified answer: its [1] survived, the unsupported sentence and its [2] were dropped
    assert choice.message.content == BREST_ANSWER
    assert "[2]" not in choice.message.content and "Penguins" not in choice.message.content
    assert resp.model_extra["refused"] is False
    check_citations(resp.model_extra["citations"])
    assert len(fake.prompts) == 1  # no history: no rewrite call, one answer call
    assert QUESTION in fake.prompt_text(0)
    assert "Maxim Ryzhenkov" in fake.prompt_text(0)  # the retrieved passages were in the prompt


def test_completion_stream(served, fake):
    stream = served.client().chat.completions.create(model="anything", stream=True,
                                                     messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    assert len(chunks) >= 3
    assert all(c.object == "chat.completion.chunk" and c.model == "rag-briefing" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == BREST_ANSWER  # verified text only: no Penguins, no [2]
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    last = chunks[-1]
    assert last.model_extra["refused"] is False
    check_citations(last.model_extra["citations"])
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])
    assert len(fake.prompts) == 1


def test_content_as_text_parts(served, fake):
    resp = served.client().chat.completions.create(
        model="rag-briefing", messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}])
    assert resp.choices[0].message.content == BREST_ANSWER
    assert QUESTION in fake.prompt_text(0)


def test_history_reaches_the_model(served, fake):
    rewritten = "Where did Lavrov meet Maxim Ryzhenkov?"
    fake.answers = [rewritten, RAW_ANSWER]  # the condense (rewrite) call, then the answer
    earlier = "Lavrov met Ryzhenkov, the Belarusian foreign minister [1]."
    messages = [
        {"role": "system", "content": "SYSTEM-MARKER: you are a pirate"},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": earlier},
        {"role": "user", "content": "Where did he meet him?"},
    ]
    resp = served.client().chat.completions.create(model="rag-briefing", messages=messages)
    assert resp.choices[0].message.content == BREST_ANSWER
    assert len(fake.prompts) == 2
    condense = fake.prompt_text(0)
    assert f"User: {QUESTION}" in condense and f"Assistant: {earlier}" in condense  # the earlier turn
    assert "Where did he meet him?" in condense
    assert rewritten in fake.prompt_text(1)  # the answer was asked for the standalone question
    assert all("SYSTEM-MARKER" not in fake.prompt_text(i) for i in range(2))  # the pipeline keeps its own prompt


def test_history_in_a_stream(served, fake):
    fake.answers = ["Where did Lavrov meet Maxim Ryzhenkov?", RAW_ANSWER]
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "He met Ryzhenkov."},
                {"role": "user", "content": "Where did he meet him?"}]
    chunks = list(served.client().chat.completions.create(model="rag-briefing", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == BREST_ANSWER
    assert "Assistant: He met Ryzhenkov." in fake.prompt_text(0)


# --- the wire format


def test_stream_wire_format_sends_no_unverified_text(served, fake, monkeypatch):
    monkeypatch.setattr("rag.serve.KEEPALIVE_SECONDS", 0.0)  # a keep-alive comment for every model token
    fake.chunk_delay = 0.01
    body = {"model": "rag-briefing", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    assert "Penguins" not in raw  # the model wrote it; only verified text goes out
    events = [e for e in raw.split("\n\n") if e]
    comments = [e for e in events if e.startswith(":")]
    data = [e for e in events if e.startswith("data: ")]
    assert len(comments) >= 3  # the model's chunks kept the connection alive
    assert len(comments) + len(data) == len(events)
    assert data[-1] == "data: [DONE]"
    parsed = [json.loads(e[len("data: "):]) for e in data[:-1]]
    assert parsed[-1]["choices"][0]["finish_reason"] == "stop"
    check_citations(parsed[-1]["citations"])
    assert "".join(p["choices"][0]["delta"].get("content") or "" for p in parsed) == BREST_ANSWER


def _post(served, body, **kw) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        return httpx.post(f"{served.url}/v1/chat/completions", content=body,
                          headers={"Content-Type": "application/json", **kw.pop("headers", {})}, timeout=30, **kw)
    return httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=30, **kw)


def check_error(r: httpx.Response, status: int, code: str | None, param: str | None = None,
                type_: str = "invalid_request_error") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text and 'File "' not in r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == type_
    assert err["code"] == code
    assert err["param"] == param
    assert isinstance(err["message"], str) and err["message"]
    return err


def _user(content):
    return {"role": "user", "content": content}


BAD_REQUESTS = [
    # (body, code, param, words in the message)
    ({}, "missing_required_parameter", "messages", "Field required"),
    ({"model": "rag-briefing"}, "missing_required_parameter", "messages", "Field required"),
    ([_user(QUESTION)], "invalid_type", None, "JSON object"),
    ("null", "invalid_type", None, "JSON object"),
    ({"messages": "Who is Makei?"}, "invalid_type", "messages", "list"),
    ({"messages": [_user(5)]}, "invalid_type", "messages[0].content", "only text is supported"),
    ({"messages": [_user(QUESTION)], "stream": "often"}, "invalid_type", "stream", "boolean"),
    ({"messages": [{"role": "wizard", "content": QUESTION}]}, "invalid_type", "messages[0].role", "user"),
    ({"messages": [{"content": QUESTION}]}, "missing_required_parameter", "messages[0].role", "Field required"),
    ({"messages": [_user([{"type": "image_url", "image_url": {"url": "http://x/y.png"}}])]}, "invalid_type",
     "messages[0].content", "only text is supported"),
    ({"messages": [_user([{"type": "text", "text": 5}])]}, "invalid_type", "messages[0].content", "a string or a list"),
    ({"messages": []}, "empty_messages", "messages", "at least one"),
    ({"messages": [_user(QUESTION), {"role": "assistant", "content": "Ryzhenkov."}]}, "last_message_not_user",
     "messages[1].role", "'assistant'"),
    ({"messages": [{"role": "system", "content": "Be brief."}]}, "last_message_not_user", "messages[0].role", "system"),
    ({"messages": [_user("   \n ")]}, "empty_content", "messages[0].content", "no text"),
    ({"messages": [_user(None)]}, "empty_content", "messages[0].content", "no text"),
    ({"messages": [_user([])]}, "empty_content", "messages[0].content", "no text"),
    ({"messages": [_user("x" * (MAX_CHARS + 1))]}, "message_too_long", "messages[0].content",
     f"{MAX_CHARS + 1} characters, at most {MAX_CHARS}"),
    ({"messages": [{"role": "assistant", "content": "y" * (MAX_CHARS + 1)}, _user(QUESTION)]}, "message_too_long",
     "messages[0].content", "serve_max_message_chars"),
    ({"messages": [_user(QUESTION)] * (MAX_MESSAGES + 1)}, "too_many_messages", "messages",
     f"{MAX_MESSAGES + 1}, at most {MAX_MESSAGES}"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("body", "code", "param", "words"), BAD_REQUESTS)
def test_bad_request_is_a_400_with_an_openai_error(served, fake, stream, body, code, param, words):
    if stream and isinstance(body, dict):
        body = {**body, "stream": body.get("stream", True)}
    r = _post(served, body) if body != "null" else _post(served, b"null")
    err = check_error(r, 400, code, param)
    assert words in err["message"]
    assert fake.prompts == []  # refused before the model


@pytest.mark.parametrize("raw", [b"{not json", b'{"messages": [', b"", "\u00ff".encode("latin-1")])
def test_invalid_json_is_a_400(served, fake, raw):
    err = check_error(_post(served, raw), 400, "invalid_json")
    assert "JSON" in err["message"]
    assert fake.prompts == []


def test_limits_allow_what_they_name(served, fake):
    """Exactly MAX_MESSAGES messages of exactly MAX_CHARS characters are still answered."""
    filler = "Ryzhenkov " * (MAX_CHARS // 10)
    assert len(filler) == MAX_CHARS
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": filler} for i in range(MAX_MESSAGES - 1)]
    r = _post(served, {"messages": messages + [_user(QUESTION)]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == BREST_ANSWER


def test_openai_client_sees_a_bad_request(served, fake):
    with pytest.raises(openai.BadRequestError) as err:
        served.client().chat.completions.create(model="rag-briefing",
                                                messages=[{"role": "assistant", "content": "Hello."}])
    assert err.value.status_code == 400
    assert err.value.body["code"] == "last_message_not_user"


def test_unknown_path_and_method(served, fake):
    check_error(httpx.get(f"{served.url}/v1/completions", timeout=10), 404, "not_found")
    check_error(httpx.get(f"{served.url}/v1/chat/completions", timeout=10), 405, "method_not_allowed")
    check_error(httpx.get(f"{served.url}/docs", timeout=10), 404, "not_found")  # no API docs page


# --- failures


def test_model_failure_is_a_500(served, fake):
    fake.fail = True
    err = check_error(_post(served, {"messages": [_user(QUESTION)]}), 500, "model_error", type_="server_error")
    assert "RuntimeError" in err["message"]
    with pytest.raises(openai.InternalServerError) as exc:
        served.client().chat.completions.create(model="rag-briefing", messages=[_user(QUESTION)])
    assert exc.value.status_code == 500
    fake.fail = False
    resp = served.client().chat.completions.create(model="rag-briefing", messages=[_user(QUESTION)])
    assert resp.choices[0].message.content == BREST_ANSWER  # the server is still fine


def test_model_failure_in_a_stream(served, fake):
    fake.fail = True
    body = {"stream": True, "messages": [_user(QUESTION)]}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200  # the headers went out before the model ran
        raw = "".join(r.iter_text())
    assert "Traceback" not in raw and "[DONE]" not in raw
    last = json.loads(raw.strip().split("\n\n")[-1][len("data: "):])
    assert last["error"]["type"] == "server_error" and last["error"]["code"] == "model_error"
    with pytest.raises(openai.APIError) as exc:
        list(served.client().chat.completions.create(model="rag-briefing", messages=[_user(QUESTION)], stream=True))
    assert "RuntimeError" in exc.value.message


def test_empty_store_is_a_503(tmp_path):
    from rag.store import Store

    settings = Settings.from_env(store_dir=tmp_path / "store", chroma_url="")
    Store(settings)  # created, empty
    srv = Served(settings, RecordingChatModel(answers=[BREST_ANSWER]))
    try:
        err = check_error(_post(srv, {"messages": [_user(QUESTION)]}), 503, "store_unavailable", type_="server_error")
        assert "rag ingest" in err["message"]
        assert srv.model.prompts == []
    finally:
        srv.stop()


# --- one answer at a time


def test_model_calls_are_serialised(served, fake):
    fake.delay = 0.3
    results: list[tuple[int, str]] = []

    def plain():
        r = _post(served, {"messages": [_user(QUESTION)]})
        results.append((r.status_code, r.json()["choices"][0]["message"]["content"]))

    def streamed():
        chunks = list(served.client().chat.completions.create(model="rag-briefing", messages=[_user(QUESTION)],
                                                              stream=True))
        results.append((200, "".join(c.choices[0].delta.content or "" for c in chunks)))

    threads = [threading.Thread(target=f) for f in (plain, streamed, plain, streamed)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [(200, BREST_ANSWER)] * 4
    assert len(fake.prompts) == 4
    assert fake.max_active == 1  # never two model calls at once
    assert time.monotonic() - t0 >= 4 * 0.3
    assert served.factory_calls == 1  # one Answerer (one model) for every request


def test_client_that_leaves_mid_stream_frees_the_model(served, fake):
    fake.delay = 0.5
    body = {"stream": True, "messages": [_user(QUESTION)]}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, timeout=30) as r:
        first = next(r.iter_lines())
        assert first.startswith("data: ") and '"role": "assistant"' in first
    # the client went away while the model thought; the next question still gets its answer
    fake.delay = 0.0
    r = _post(served, {"messages": [_user(QUESTION)]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == BREST_ANSWER
    assert fake.max_active == 1


# --- API key


@pytest.fixture(scope="module")
def keyed(settings):
    srv = Served(settings, RecordingChatModel(answers=[RAW_ANSWER]), api_key="s3cret-key")
    yield srv
    srv.stop()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-keyX"},
                                     {"Authorization": "s3cret-key"}, {"Authorization": "Basic s3cret-key"},
                                     {"Authorization": "Bearer"}, {"Authorization": "Bearer  s3cret-key x"}])
def test_api_key_required(keyed, headers):
    for r in (httpx.get(f"{keyed.url}/v1/models", headers=headers, timeout=10),
              _post(keyed, {"messages": [_user(QUESTION)]}, headers=headers),
              _post(keyed, b"{not json", headers=headers),  # the key is checked before the body is read
              httpx.get(f"{keyed.url}/nowhere", headers=headers, timeout=10)):
        check_error(r, 401, "invalid_api_key")
        assert r.headers["www-authenticate"] == "Bearer"
    assert keyed.model.prompts == []


def test_api_key_accepted(keyed):
    with pytest.raises(openai.AuthenticationError):
        keyed.client("wrong").models.list()
    client = keyed.client("s3cret-key")
    assert [m.id for m in client.models.list()] == ["rag-briefing"]
    resp = client.chat.completions.create(model="rag-briefing", messages=[_user(QUESTION)])
    assert resp.choices[0].message.content == BREST_ANSWER
    check_citations(resp.model_extra["citations"])
    r = httpx.get(f"{keyed.url}/v1/models", headers={"Authorization": "bearer s3cret-key"}, timeout=10)
    assert r.status_code == 200 and r.json()["data"][0]["id"] == "rag-briefing"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_refuses_to_start_off_loopback_without_a_key(settings, host):
    from rag.serve import check_bind, run

    calls = []
    for key in (None, ""):
        with pytest.raises(ValueError, match=r"refusing to serve on .* without an API key: pass --api-key"):
            run(lambda: calls.append(1), settings, host=host, port=_free_port(), api_key=key)
    assert calls == []
    check_bind(host, "some-key")  # with a key it may


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_needs_no_key(host):
    from rag.serve import check_bind

    check_bind(host, None)


# --- the command


@pytest.fixture
def no_model():
    """Registers ``--llm recorded`` (``rag.llm.register_llm``): each model built from it is a new
    RecordingChatModel, appended to the list this returns (empty: no model was built)."""
    from rag.llm import register_llm

    made: list[RecordingChatModel] = []

    def build(arg: str, settings) -> RecordingChatModel:
        made.append(RecordingChatModel(answers=[BREST_ANSWER]))
        return made[-1]

    unregister = register_llm("recorded", build)
    yield made
    unregister()


def test_cli_serve_off_loopback_without_key_is_refused(cli, settings, no_model, monkeypatch):
    started = []
    monkeypatch.setattr("rag.serve.run", lambda *a, **kw: started.append(kw))
    result = cli("serve", "--llm", "recorded", "--store", settings.store_dir, "--host", "0.0.0.0")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "refusing to serve on 0.0.0.0 without an API key" in result.stderr
    assert "--api-key" in result.stderr
    assert no_model == [] and started == []  # refused before the model is loaded


def test_cli_serve_passes_its_options(cli, settings, no_model, monkeypatch):
    started = []

    def fake_run(factory, run_settings, **kw):
        started.append((factory(), run_settings, kw))

    monkeypatch.setattr("rag.serve.run", fake_run)
    result = cli("serve", "--llm", "recorded", "--store", settings.store_dir, "--host", "0.0.0.0", "--port", "8123", "--threads", "1",
                 env={"RAG_API_KEY": "from-env"})
    assert result.exit_code == 0, result.output
    ((answerer, run_settings, kw),) = started
    assert kw == {"host": "0.0.0.0", "port": 8123, "api_key": "from-env"}
    assert run_settings.n_threads == 1 and Path(run_settings.store_dir) == Path(settings.store_dir)
    assert answerer.llm is no_model[0] and len(no_model) == 1  # the model was built once, up front

    started.clear()
    result = cli("serve", "--llm", "recorded", "--store", settings.store_dir, "--api-key", "flag-key")
    assert result.exit_code == 0, result.output
    assert started[0][2] == {"host": "127.0.0.1", "port": 8000, "api_key": "flag-key"}


def test_cli_serve_on_an_empty_store(cli, tmp_path, no_model, monkeypatch):
    monkeypatch.setattr("rag.serve.run", lambda *a, **kw: pytest.fail("must not start"))
    store = tmp_path / "store"
    store.mkdir()
    result = cli("serve", "--llm", "recorded", "--store", store)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "empty" in result.stderr and "rag ingest" in result.stderr
    assert no_model == []


def test_cli_lists_serve():
    import rag.cli

    assert "serve" in rag.cli.main.commands
    assert re.search(r"\| serve``", rag.cli.__doc__)
