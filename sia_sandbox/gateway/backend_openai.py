"""``openai-compatible`` backend: forwards to an OpenAI-style API (vLLM serving gpt-oss-120b, as in the paper).

The API key is read here, in the platform process, from the environment variable the caller names; it
never reaches a sandbox, and the gateway scrubs it from every response it serves.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import openai
import structlog

from sia_sandbox.errors import ConfigError
from sia_sandbox.gateway.backends import (
    BackendRequestError,
    ModelBackend,
    UpstreamError,
    register_model_backend,
)
from sia_sandbox.gateway.types import Generation, GenerationRequest, render_messages

log = structlog.get_logger(__name__)

_TOKEN_ID = re.compile(r"^token_id:(\d+)$")


@register_model_backend("openai-compatible")
class OpenAICompatibleBackend(ModelBackend):
    """Chat/completions against ``base_url`` with the ``openai`` SDK, requesting per-token logprobs.

    Token ids come from vLLM's ``return_token_ids`` extension when ``vllm_token_ids`` is on (the
    response then carries ``prompt_token_ids`` and ``choices[0].token_ids``); otherwise they are parsed
    from ``token_id:N`` logprob tokens (vLLM's ``return_tokens_as_token_ids``), else left empty.

    Args:
        model: model id at the server (e.g. ``openai/gpt-oss-120b``).
        base_url: API root, e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: environment variable holding the key (read once, here).
        api_key: the key itself (tests); overrides ``api_key_env``.
        vllm_token_ids: send vLLM's ``return_token_ids``/``return_tokens_as_token_ids`` extensions
            (turn off for servers that reject unknown fields, such as api.openai.com).
        adapter_version: label recorded with every call (e.g. the LoRA served by vLLM).
        timeout_s: per-request timeout.
        max_retries: SDK retries on 429/5xx/connection errors.

    Raises:
        ConfigError: no key is available.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        api_key: str | None = None,
        vllm_token_ids: bool = True,
        adapter_version: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 3,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key:
            raise ConfigError(
                f"openai-compatible backend has no API key: ${api_key_env} is not set",
                hint=f"export {api_key_env}=... (any non-empty value for a local vLLM server)",
            )
        self._key = key
        self._model = model
        self._vllm = vllm_token_ids
        self._adapter_version = adapter_version
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout_s, max_retries=max_retries)
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._model

    def secrets(self) -> list[str]:
        return [self._key]

    def generate(self, request: GenerationRequest) -> Generation:
        """See ``ModelBackend.generate``."""
        common: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            common["stop"] = request.stop
        if request.seed is not None:
            common["seed"] = request.seed
        if self._vllm:
            common["extra_body"] = {"return_token_ids": True, "return_tokens_as_token_ids": True}
        try:
            if request.messages is not None:
                resp = self._client.chat.completions.create(
                    messages=request.messages, logprobs=True, **common  # type: ignore[arg-type]
                )
                return self._from_chat(request, resp)
            resp_c = self._client.completions.create(prompt=request.prompt or "", logprobs=1, **common)
            return self._from_completion(request, resp_c)
        except openai.BadRequestError as e:
            raise BackendRequestError(f"the model server rejected the request (HTTP {e.status_code})") from e
        except openai.APIStatusError as e:
            raise UpstreamError(
                f"model server error {type(e).__name__} (HTTP {e.status_code}) after retries"
            ) from e
        except openai.APIError as e:
            raise UpstreamError(f"model server unreachable or invalid: {type(e).__name__}") from e

    def _from_chat(self, request: GenerationRequest, resp: Any) -> Generation:
        if not resp.choices:
            raise UpstreamError("model server returned no choices")
        choice = resp.choices[0]
        text = choice.message.content or ""
        entries = list(choice.logprobs.content or []) if choice.logprobs else []
        return self._build(
            prompt=render_messages(request.messages or []), completion=text, resp=resp, choice=choice,
            entries=[(e.token, e.logprob) for e in entries], finish=choice.finish_reason,
        )

    def _from_completion(self, request: GenerationRequest, resp: Any) -> Generation:
        if not resp.choices:
            raise UpstreamError("model server returned no choices")
        choice = resp.choices[0]
        lp = choice.logprobs
        entries = list(zip(lp.tokens or [], lp.token_logprobs or [], strict=False)) if lp else []
        return self._build(prompt=request.prompt or "", completion=choice.text or "", resp=resp,
                           choice=choice, entries=entries, finish=choice.finish_reason)

    def _build(self, *, prompt: str, completion: str, resp: Any, choice: Any,
               entries: list[tuple[str, float | None]], finish: str | None) -> Generation:
        logprobs = [float(lp) for _, lp in entries if lp is not None]
        ids = _extra(choice, "token_ids")
        if not isinstance(ids, list):
            parsed = [_TOKEN_ID.match(tok or "") for tok, _ in entries]
            ids = [int(m.group(1)) for m in parsed if m] if parsed and all(parsed) else []
        prompt_ids = _extra(resp, "prompt_token_ids")
        if not isinstance(prompt_ids, list):
            prompt_ids = _extra(choice, "prompt_token_ids")
        usage = resp.usage
        return Generation(
            model=self._model,
            adapter_version=self._adapter_version,
            prompt=prompt,
            completion=completion,
            prompt_token_ids=[int(t) for t in prompt_ids] if isinstance(prompt_ids, list) else [],
            completion_token_ids=[int(t) for t in ids],
            token_logprobs=logprobs,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else len(logprobs),
            finish_reason="length" if finish == "length" else "stop",
        )


def _extra(obj: Any, name: str) -> Any:
    """A non-standard response field (vLLM extensions land in pydantic's ``model_extra``)."""
    value = getattr(obj, name, None)
    if value is None and getattr(obj, "model_extra", None):
        value = obj.model_extra.get(name)
    return value
