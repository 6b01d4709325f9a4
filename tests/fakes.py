"""Small fakes for fast unit tests: a chat model that returns queued answers and records the prompts,
and an embedding wrapper that counts its calls."""
from __future__ import annotations

from typing import Any, Iterator

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


class QueuedChatModel(BaseChatModel):
    """Answers with ``answers`` in order (the last one repeats); ``prompts`` keeps what it was sent."""

    answers: list[str]
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "queued-fake"

    def _next(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kw: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._next(messages)))])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None, **kw: Any) -> Iterator[ChatGenerationChunk]:
        text = self._next(messages)
        for i in range(0, len(text), 7):
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + 7]))

    def prompt_text(self, i: int = -1) -> str:
        return "\n".join(str(m.content) for m in self.prompts[i])


class CountingEmbeddings(Embeddings):
    """Wraps a real embedding model and records the size of every ``embed_documents`` call.

    Passed to ``Store(settings, embeddings=...)``, so a test counts encode calls through the
    store's public constructor instead of patching a private method.
    """

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.document_calls: list[int] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)
