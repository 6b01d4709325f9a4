"""Generate: LLM backends behind one LangChain chat-model interface.

``local`` (bundled Qwen2.5-Coder-1.5B GGUF), ``gguf:/path.gguf`` (any local GGUF),
``openai:MODEL`` (any OpenAI-compatible server through ChatOpenAI, configured by
OPENAI_BASE_URL / OPENAI_API_KEY), ``fake:TEXT`` (replies TEXT to every prompt, streamed a
character at a time) and ``fake-list:["one", "two"]`` (those replies in turn): tests and examples
choose them the way a user chooses a real model, as simonw/llm's ``-m mock``, instead of patching
modules. ``register_llm`` adds a model of one's own under a new name (simonw/llm's plugin hook);
tests register their recording models through it.

The llama.cpp chat model is written here rather than taken from langchain-community because
that wrapper defaults ``rope_freq_base`` to 10000 and ``n_batch`` to 8: the first overrides the
model's own RoPE base (Qwen uses 1e6), which silently breaks long-context answers and refusals;
the second makes prompt processing several times slower.
"""
from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any, Callable, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from rag.config import Settings

_ROLE = {"system": "system", "human": "user", "ai": "assistant"}


@functools.lru_cache(maxsize=2)
def _load_llama(model_path: str, n_ctx: int, n_threads: int, n_batch: int):
    """Load a GGUF once per process (keyed by its settings)."""
    from llama_cpp import Llama

    return Llama(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        n_batch=n_batch,
        rope_freq_base=0.0,  # 0 = use the base stored in the GGUF
        rope_freq_scale=0.0,
        seed=0,
        verbose=False,
    )


class LlamaCppChat(BaseChatModel):
    """Greedy chat completion with llama-cpp-python, using the GGUF's own chat template."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    n_batch: int = 512
    max_tokens: int = 256
    stop: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "max_tokens": self.max_tokens}

    def _llama(self):
        return _load_llama(self.model_path, self.n_ctx, self.n_threads, self.n_batch)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [{"role": _ROLE.get(m.type, "user"), "content": str(m.content)} for m in messages],
            "temperature": 0.0,
            "top_k": 1,
            "top_p": 1.0,
            "repeat_penalty": 1.0,
            "max_tokens": self.max_tokens,
            "stop": (stop or []) + self.stop,
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        llama = self._llama()
        with _MODEL_LOCK:  # one generation at a time: llama.cpp contexts are not thread-safe
            out = llama.create_chat_completion(**self._request(messages, stop))
        choice = out["choices"][0]
        usage = out.get("usage", {})
        msg = AIMessage(content=choice["message"]["content"] or "",
                        response_metadata={"finish_reason": choice.get("finish_reason"), "usage": usage})
        return ChatResult(generations=[ChatGeneration(message=msg)], llm_output={"usage": usage})

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        llama = self._llama()
        with _MODEL_LOCK:
            for part in llama.create_chat_completion(**self._request(messages, stop), stream=True):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk


_MODEL_LOCK = threading.RLock()

LlmFactory = Callable[[str, Settings], BaseChatModel]
"""Builds a chat model from the part of the spec after ``NAME:`` ("" for a bare ``NAME``)."""

BUILTIN_LLMS = frozenset({"local", "gguf", "openai", "fake", "fake-list"})
_REGISTERED: dict[str, LlmFactory] = {}
_REGISTERED_LOCK = threading.Lock()


def register_llm(name: str, factory: LlmFactory) -> Callable[[], None]:
    """Make ``--llm NAME`` / ``--llm NAME:ARG`` (and ``RAG_LLM``) build ``factory(ARG, settings)``.

    The plugin hook, as in simonw/llm: a model of one's own, or a test's recording model, is then
    chosen through the same spec a user passes, instead of by patching ``make_llm``. Built-in
    names cannot be replaced. Returns a function that removes the registration again.
    """
    if not name or ":" in name or name in BUILTIN_LLMS:
        raise ValueError(f"cannot register an LLM named {name!r}: choose a new name without ':'")
    with _REGISTERED_LOCK:
        if name in _REGISTERED:
            raise ValueError(f"an LLM named {name!r} is already registered")
        _REGISTERED[name] = factory

    def unregister() -> None:
        with _REGISTERED_LOCK:
            if _REGISTERED.get(name) is factory:
                del _REGISTERED[name]

    return unregister


def make_llm(spec: str | None = None, settings: Settings | None = None) -> BaseChatModel:
    """Build the chat model named by ``spec`` (default: settings.llm / RAG_LLM / ``local``).

    ``local``; ``gguf:PATH``; ``openai:MODEL``; ``fake:TEXT`` (replies TEXT to every prompt);
    ``fake-list:JSON`` (a JSON array of strings: the replies in order, the last one repeating);
    or a name given to ``register_llm``.
    """
    settings = settings or Settings.from_env()
    spec = spec or settings.llm
    name, _, arg = spec.partition(":")
    with _REGISTERED_LOCK:
        factory = _REGISTERED.get(name)
    if factory is not None:
        return factory(arg, settings)
    if spec == "local":
        from rag.assets import gguf_path

        return LlamaCppChat(model_path=str(gguf_path(settings=settings)), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                            n_batch=settings.n_batch, max_tokens=settings.max_tokens)
    if spec.startswith("gguf:"):
        path = os.path.expanduser(spec[5:])
        if not os.path.isfile(path):
            raise ValueError(f"--llm {spec}: no such GGUF file {path}")
        return LlamaCppChat(model_path=path, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                            n_batch=settings.n_batch, max_tokens=settings.max_tokens)
    if spec.startswith("openai:"):
        from langchain_openai import ChatOpenAI

        model = spec[7:]
        if not model:
            raise ValueError("--llm openai:MODEL needs a model name")
        return ChatOpenAI(
            model=model,
            temperature=0.0,
            max_tokens=settings.max_tokens,
            base_url=os.environ.get("OPENAI_BASE_URL"),
            api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",  # local servers ignore it
            timeout=600,
        )
    if spec.startswith("fake:"):
        from langchain_core.language_models import FakeListChatModel

        if not spec[5:]:
            raise ValueError("--llm fake:TEXT needs the reply text")
        # one response: FakeListChatModel then gives it to every call, from any thread
        return FakeListChatModel(responses=[spec[5:]])
    if spec.startswith("fake-list:"):
        from langchain_core.language_models import FakeListChatModel

        # JSON rather than a delimiter: replies may hold any character, newlines included
        try:
            replies = json.loads(spec[10:])
        except ValueError:
            replies = None
        if not isinstance(replies, list) or not replies or not all(isinstance(r, str) for r in replies):
            raise ValueError('--llm fake-list:JSON needs a JSON array of reply strings, e.g. fake-list:["one", "two"]')
        return FakeListChatModel(responses=replies)  # replies in turn, starting over after the last
    raise ValueError(f"unknown --llm {spec!r}: use local, gguf:/path/to/model.gguf, openai:MODEL, fake:TEXT, "
                     "fake-list:JSON or a registered name")
