"""``anthropic`` backend: forwards chat calls to the Anthropic messages API; no logprobs, no token ids.

The API key is read here, in the platform process, from the environment; it never reaches a sandbox,
and the gateway scrubs it from every response it serves.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import anthropic

from sia_sandbox.errors import ConfigError
from sia_sandbox.gateway.backends import (
    BackendRequestError,
    ModelBackend,
    UpstreamError,
    register_model_backend,
)
from sia_sandbox.gateway.types import Generation, GenerationRequest, render_messages

DEFAULT_MODEL = "claude-sonnet-4-6"
_CREATE_PARAMS = frozenset(inspect.signature(anthropic.resources.messages.Messages.create).parameters)


@register_model_backend("anthropic")
class AnthropicBackend(ModelBackend):
    """Maps an OpenAI chat request onto ``messages.create`` and the reply back onto the OpenAI shape.

    System/developer messages become the ``system`` parameter; a ``/v1/completions`` prompt becomes one
    user message. Only text blocks of the reply are returned (the gateway forwards no tools).

    Args:
        model: Anthropic model id.
        base_url: API root (None = the SDK default; tests point it at a local fake).
        api_key_env: environment variable holding the key (read once, here).
        api_key: the key itself (tests); overrides ``api_key_env``.
        timeout_s: per-request timeout.
        max_retries: SDK retries on 429/529/5xx/connection errors (with the server's retry-after).

    Raises:
        ConfigError: no key is available.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 3,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key:
            raise ConfigError(
                f"anthropic backend has no API key: ${api_key_env} is not set", hint=f"export {api_key_env}=..."
            )
        self._key = key
        self._model = model
        self._client = anthropic.Anthropic(
            api_key=key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    @property
    def model_name(self) -> str:
        return self._model

    def secrets(self) -> list[str]:
        return [self._key]

    def generate(self, request: GenerationRequest) -> Generation:
        """See ``ModelBackend.generate``."""
        messages = request.messages if request.messages is not None else [
            {"role": "user", "content": request.prompt or ""}
        ]
        system = "\n\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
        turns = [{"role": m["role"], "content": m["content"]} for m in messages
                 if m["role"] not in ("system", "developer")]
        if not turns or turns[0]["role"] != "user":
            raise BackendRequestError("the anthropic backend needs a user message first (after system messages)")
        kwargs: dict[str, Any] = {"model": self._model, "max_tokens": request.max_tokens, "messages": turns}
        if system:
            kwargs["system"] = system
        if request.stop:
            kwargs["stop_sequences"] = request.stop
        # Recent SDKs dropped sampling parameters from messages.create; send them only where accepted.
        if "temperature" in _CREATE_PARAMS:
            kwargs["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is [0, 1]
        if "top_p" in _CREATE_PARAMS and request.top_p < 1.0:
            kwargs["top_p"] = request.top_p
        try:
            resp = self._client.messages.create(**kwargs)
        except anthropic.BadRequestError as e:
            raise BackendRequestError(f"the Anthropic API rejected the request (HTTP {e.status_code})") from e
        except anthropic.APIStatusError as e:
            raise UpstreamError(f"Anthropic API error {type(e).__name__} (HTTP {e.status_code}) after retries") from e
        except anthropic.APIError as e:
            raise UpstreamError(f"Anthropic API unreachable or invalid: {type(e).__name__}") from e
        text = "".join(b.text for b in resp.content if getattr(b, "type", None) == "text")
        return Generation(
            model=self._model,
            prompt=render_messages(messages) if request.messages is not None else (request.prompt or ""),
            completion=text,
            prompt_tokens=resp.usage.input_tokens,
            completion_tokens=resp.usage.output_tokens,
            finish_reason="length" if resp.stop_reason == "max_tokens" else "stop",
        )
