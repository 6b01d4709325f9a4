"""Generate: LLM backends behind one LangChain chat-model interface.

``local`` (bundled Qwen2.5-Coder-1.5B GGUF), ``gguf:/path.gguf`` (any local GGUF),
``openai:MODEL`` (any OpenAI-compatible server through ChatOpenAI, configured by
OPENAI_BASE_URL / OPENAI_API_KEY) and ``fake:TEXT`` (replies TEXT to every prompt, streamed a
character at a time: tests and examples choose it the way a user chooses a real model, as
simonw/llm's ``-m mock``, instead of patching modules).

The llama.cpp chat model is written here rather than taken from langchain-community because
that wrapper defaults ``rope_freq_base`` to 10000 and ``n_batch`` to 8: the first overrides the
model's own RoPE base (Qwen uses 1e6), which silently breaks long-context answers and refusals;
the second makes prompt processing several times slower.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any, Iterator

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


def make_llm(spec: str | None = None, settings: Settings | None = None) -> BaseChatModel:
    """Build the chat model named by ``spec`` (default: settings.llm / RAG_LLM / ``local``)."""
    settings = settings or Settings.from_env()
    spec = spec or settings.llm
    if spec == "local":
        from rag.assets import gguf_path

        return LlamaCppChat(model_path=str(gguf_path()), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
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
    raise ValueError(f"unknown --llm {spec!r}: use local, gguf:/path/to/model.gguf, openai:MODEL or fake:TEXT")
