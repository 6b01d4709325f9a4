"""Serve: an OpenAI-compatible HTTP endpoint for the cited pipeline (``rag serve``).

Any OpenAI client or chat front end can ask the documents through it:

  * ``POST /v1/chat/completions``  the last message (from the user) is the question, the earlier
    user/assistant messages are the conversation history (system/developer messages are ignored:
    the pipeline has its own prompt). Plain JSON, or server-sent events with ``"stream": true``.
    The answer text carries its ``[n]`` marks; the cited passages come as structured data in the
    extra top-level field ``citations`` (and ``refused``) of the completion object, and of the last
    chunk of a stream.
  * ``GET /v1/models`` (and ``/v1/models/{id}``)  the one model, :data:`MODEL_ID`.

Only verified text is ever sent: a stream carries the answer once it has been checked against the
passages (sentences the passages do not support are dropped and citations renumbered), so its
content arrives in one piece after generation; while the model writes, SSE comment lines keep the
connection alive.

The Answerer is synchronous and the local llama.cpp model is not thread-safe: every answer runs in
the thread pool, off the event loop, one at a time (an :class:`asyncio.Lock` held for the whole
answer, stream included); other requests wait for their turn without holding a thread.

Off loopback an API key is required (``Authorization: Bearer KEY``). Every error is an
OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``, never a traceback.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from typing import Any, AsyncIterator, Callable, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, field_validator
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.access import is_loopback
from rag.config import Settings

log = logging.getLogger(__name__)

MODEL_ID = "rag-briefing"
KEEPALIVE_SECONDS = 5.0  # at most one SSE comment line this often while the model writes


# ----------------------------------------------------------------------------- request

_CONTENT_TYPES = 'content must be a string or a list of {"type": "text", "text": "..."} parts (only text is supported)'


class ChatMessage(BaseModel):
    """One message; ``content`` is a string, or a list of text parts joined by newlines."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                           and isinstance(p.get("text"), str) for p in value):
            return "\n".join(p["text"] for p in value)
        raise ValueError(_CONTENT_TYPES)

    def text(self) -> str:
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The fields of an OpenAI chat completion request that matter here; the others (temperature,
    max_tokens, ...) are accepted and ignored, and any ``model`` name is answered by :data:`MODEL_ID`."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[ChatMessage]
    stream: bool = False


class APIError(Exception):
    """An error answered with an OpenAI-style body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def parse_request(req: ChatCompletionRequest, settings: Settings) -> tuple[str, list[dict[str, str]]]:
    """(question, history) of a request, or :class:`APIError` (400) naming what is wrong.

    The question is the last message, which must come from the user and hold text; the history is
    the user/assistant messages before it, as ``[{"role", "content"}]`` (what the app passes)."""
    msgs = req.messages
    if not msgs:
        raise APIError(400, "messages must hold at least one message (the question, from the user)",
                       param="messages", code="empty_messages")
    if len(msgs) > settings.serve_max_messages:
        raise APIError(400, f"too many messages: {len(msgs)}, at most {settings.serve_max_messages} "
                       "(setting serve_max_messages)", param="messages", code="too_many_messages")
    for i, m in enumerate(msgs):
        if len(m.text()) > settings.serve_max_message_chars:
            raise APIError(400, f"messages[{i}].content is too long: {len(m.text())} characters, at most "
                           f"{settings.serve_max_message_chars} (setting serve_max_message_chars)",
                           param=f"messages[{i}].content", code="message_too_long")
    last = msgs[-1]
    if last.role != "user":
        raise APIError(400, f"the last message must be the user's question, not a {last.role!r} message",
                       param=f"messages[{len(msgs) - 1}].role", code="last_message_not_user")
    question = last.text().strip()
    if not question:
        raise APIError(400, "the last message (the question) has no text", param=f"messages[{len(msgs) - 1}].content",
                       code="empty_content")
    history = [{"role": m.role, "content": m.text().strip()} for m in msgs[:-1]
               if m.role in ("user", "assistant") and m.text().strip()]
    return question, history


# ----------------------------------------------------------------------------- response

def citation_json(c: Any) -> dict[str, Any]:
    """One cited passage: n, source, title, date (ISO, or ``--MM-DD`` without a year), date_label,
    page and page_end (a PDF passage's pages, else null), chunk_id and text (the quoted passage)."""
    return {**c.to_json(), "date_label": c.date_label}


def completion_json(answer: Any, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                     "finish_reason": "stop", "logprobs": None}],
        "citations": [citation_json(c) for c in answer.citations],
        "refused": bool(answer.refused),
    }


def _chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> str:
    body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _model_error(exc: BaseException) -> APIError:
    """A failing answer as a 5xx; the traceback goes to the server log only."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, LookupError):  # the store is empty (or gone)
        return APIError(503, str(exc) or "the document store is not ready", "server_error", code="store_unavailable")
    log.error("the answer failed", exc_info=exc)
    return APIError(500, f"the language model failed ({type(exc).__name__}); see the server log",
                    "server_error", code="model_error")


# ----------------------------------------------------------------------------- app

class BearerKeyMiddleware:
    """Every HTTP request needs ``Authorization: Bearer <api_key>`` (compared in constant time),
    checked before anything else is read; otherwise a 401 with an OpenAI-style body."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or ()).get(b"authorization", b"")
            scheme, _, given = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.expected):
                response = APIError(401, "missing or wrong API key: send the header Authorization: Bearer KEY",
                                    code="invalid_api_key").response()
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validation_error(exc: RequestValidationError) -> APIError:
    errors = list(exc.errors())
    if not errors:
        return APIError(400, "invalid request body")
    err = errors[0]
    loc = [p for p in err.get("loc", ()) if p != "body"]
    param = ""
    for p in loc:
        param += f"[{p}]" if isinstance(p, int) else (f".{p}" if param else str(p))
    kind = str(err.get("type", ""))
    if kind == "json_invalid":
        return APIError(400, "the request body is not valid JSON", code="invalid_json")
    if kind == "missing" and not loc:
        return APIError(400, 'the request body is empty: send a JSON object with "messages"', code="invalid_json")
    if not loc:
        return APIError(400, 'the request body must be a JSON object with "messages" (Content-Type: application/json)',
                        code="invalid_type")
    code = "missing_required_parameter" if kind == "missing" else "invalid_type"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return APIError(400, f"{param}: {msg}" if param else f"request body: {msg}", param=param or None, code=code)


def create_app(answerer_factory: Callable[[], Any], settings: Settings, api_key: str | None = None) -> FastAPI:
    """The FastAPI app. ``answerer_factory()`` builds the :class:`rag.answer.Answerer` on the first
    question (once); with ``api_key`` every request needs ``Authorization: Bearer <api_key>``."""
    app = FastAPI(title="rag-briefing OpenAI-compatible API", docs_url=None, redoc_url=None, openapi_url=None)
    model_lock = asyncio.Lock()  # one answer at a time: the local model is not thread-safe
    holder: dict[str, Any] = {}

    def answerer() -> Any:  # called with model_lock held, in the thread pool
        if "answerer" not in holder:
            holder["answerer"] = answerer_factory()
        return holder["answerer"]

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not decode the body (not UTF-8)
            return APIError(400, "the request body is not valid JSON (UTF-8)", code="invalid_json").response()
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return APIError(exc.status_code, str(exc.detail), code=code).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _model_error(exc).response()

    if api_key:
        app.add_middleware(BearerKeyMiddleware, api_key=api_key)

    def model_card() -> dict[str, Any]:
        return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag-briefing"}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id != MODEL_ID:
            raise APIError(404, f"no model {model_id!r}: this server serves {MODEL_ID!r}", param="model",
                           code="model_not_found")
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatCompletionRequest):
        question, history = parse_request(req, settings)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not req.stream:
            async with model_lock:
                try:
                    answer = await run_in_threadpool(lambda: answerer().run(question, history))
                except Exception as exc:
                    raise _model_error(exc) from None
            return completion_json(answer, completion_id, created)
        return StreamingResponse(_stream(question, history, completion_id, created), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _stream(question: str, history: list[dict[str, str]], completion_id: str,
                      created: int) -> AsyncIterator[str]:
        from rag.answer import Answer

        yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
        async with model_lock:
            events = None
            try:
                events = await run_in_threadpool(lambda: answerer().stream(question, history))
                final = None
                last_sent = time.monotonic()
                async for event in iterate_in_threadpool(events):
                    if isinstance(event, Answer):
                        final = event
                        break
                    if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:  # unverified text is never sent
                        last_sent = time.monotonic()
                        yield ": generating\n\n"
                if final is None:
                    raise RuntimeError("the answer chain ended without an answer")
            except Exception as exc:
                # the headers are gone: the error travels as an SSE event (OpenAI clients raise it)
                yield f"data: {json.dumps(_model_error(exc).body(), ensure_ascii=False)}\n\n"
                return
            finally:
                if events is not None:  # a client that went away stops the generation here
                    with anyio.CancelScope(shield=True):
                        await run_in_threadpool(events.close)
        yield _chunk(completion_id, created, {"content": final.answer})
        yield _chunk(completion_id, created, {}, "stop",
                     citations=[citation_json(c) for c in final.citations], refused=bool(final.refused))
        yield "data: [DONE]\n\n"

    return app


# ----------------------------------------------------------------------------- run

def check_bind(host: str, api_key: str | None) -> None:
    """Raise ValueError when ``host`` is not a loopback address and there is no API key."""
    if not is_loopback(host) and not api_key:
        raise ValueError(f"refusing to serve on {host} without an API key: pass --api-key KEY (or RAG_API_KEY), "
                         "or bind to 127.0.0.1")


def run(answerer_factory: Callable[[], Any], settings: Settings, host: str = "127.0.0.1", port: int = 8000,
        api_key: str | None = None, log_level: str = "info") -> None:
    """Serve the endpoint with uvicorn (blocking). Off loopback an API key is required (``api_key``
    None: ``settings.api_key``, i.e. RAG_API_KEY)."""
    import uvicorn

    api_key = api_key or (settings.api_key if api_key is None else None)  # "" stays "no key"
    check_bind(host, api_key)
    app = create_app(answerer_factory, settings, api_key)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, server_header=False,
                date_header=False)


__all__ = ["MODEL_ID", "ChatCompletionRequest", "ChatMessage", "APIError", "BearerKeyMiddleware", "parse_request",
           "create_app", "check_bind", "run"]
