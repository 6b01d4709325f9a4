"""A small fake chat model for fast unit tests: returns queued answers, records the prompts."""
from __future__ import annotations

from typing import Any, Iterator

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
