"""Typed requests, generations and budgets of the model gateway (a leaf: imports no other sia module)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MAX_TOKENS = 256
"""Completion tokens generated when a request does not say (OpenAI's default is "until the context ends")."""
MAX_REQUEST_BYTES = 8 << 20
"""Largest request body the gateway reads (8 MiB); bigger ones get HTTP 413."""

FinishReason = Literal["stop", "length"]
Role = Literal["system", "developer", "user", "assistant"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GatewayBudgets(_Frozen):
    """Per-run limits the gateway enforces; past one every call gets HTTP 429 ``budget_exceeded``."""

    max_calls: int | None = Field(default=None, gt=0)
    """Most model calls in the run, all sandbox sessions together. None = unlimited."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Most prompt + completion tokens in the run. None = unlimited. A call that starts under the limit
    may end over it by at most its own size (its prompt length is only known once it runs)."""
    max_tokens_per_call: int = Field(default=1024, gt=0)
    """Cap on a request's ``max_tokens``; larger requests are silently lowered to it (as OpenAI does)."""
    default_max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, gt=0)
    """``max_tokens`` of a request that does not set one (then capped by ``max_tokens_per_call``)."""
    max_concurrent_per_session: int = Field(default=8, gt=0)
    """Most simultaneous connections one sandbox session may hold open (each costs a host thread)."""


class ChatMessage(BaseModel):
    """One OpenAI chat message; content parts are flattened to text."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Role
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _flatten(cls, v: Any) -> Any:
        # The openai SDK may send content as [{"type": "text", "text": ...}]; only text is supported.
        if isinstance(v, list):
            texts = []
            for part in v:
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ValueError("only text content parts ({'type': 'text', 'text': ...}) are supported")
                texts.append(part["text"])
            return "".join(texts)
        if v is None:
            return ""
        return v


class _SamplingRequest(BaseModel):
    # Unknown OpenAI fields (user, metadata, ...) are ignored, as the OpenAI API does for most of them.
    model_config = ConfigDict(frozen=True, extra="ignore")

    model: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: Literal[1] = 1
    stream: Literal[False] = False
    stop: list[str] = Field(default_factory=list, max_length=4)
    seed: int | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, v: Any) -> Any:
        if v is None:
            return []
        return [v] if isinstance(v, str) else v


class ChatCompletionRequest(_SamplingRequest):
    """Body of ``POST /v1/chat/completions`` (the subset the gateway supports)."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    logprobs: bool = False


class CompletionRequest(_SamplingRequest):
    """Body of ``POST /v1/completions`` (one string prompt)."""

    prompt: str = Field(min_length=1)
    logprobs: int | None = None


class GenerationRequest(_Frozen):
    """What a backend is asked to generate: exactly one of ``messages`` / ``prompt``."""

    messages: list[dict[str, str]] | None = None
    """Chat messages (``role``/``content``); the backend applies its chat template."""
    prompt: str | None = None
    """Raw prompt text (``/v1/completions``)."""
    max_tokens: int = Field(gt=0)
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class Generation(_Frozen):
    """What a backend produced for one request."""

    model: str
    adapter_version: str | None = None
    prompt: str
    """Prompt text after the chat template (a documented rendering for remote chat models)."""
    completion: str
    prompt_token_ids: list[int] = Field(default_factory=list)
    completion_token_ids: list[int] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    finish_reason: FinishReason = "stop"


def render_messages(messages: list[dict[str, str]]) -> str:
    """Deterministic text form of chat messages, used as the prompt of a model whose template is unknown.

    The same messages always render to the same text, so GRPO groups (sha256 of the prompt) still work.
    """
    parts = [f"<|{m['role']}|>\n{m['content']}\n" for m in messages]
    return "".join(parts) + "<|assistant|>\n"
