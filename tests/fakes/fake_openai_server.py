"""Fake OpenAI-compatible API (as vLLM serves it): chat completions and completions with logprobs.

The reply is ``reply_fn(messages)`` (default: ``"echo: <last user message>"``), cut to ``max_tokens``
toy tokens (``finish_reason="length"`` then). With ``logprobs`` the per-token log-probabilities are
``-0.01 * (i + 1)``; vLLM's ``return_tokens_as_token_ids`` makes tokens ``token_id:N`` and
``return_token_ids`` adds ``prompt_token_ids`` and ``choices[0].token_ids``.

An error body on an injected failure deliberately echoes the received Authorization header, like an
API that repeats a bad key: a gateway must never forward upstream error bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes import FakeAPIError, FakeAPIServer, token_id, word_tokens


def _echo(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return f"echo: {content}"


class FakeOpenAIServer(FakeAPIServer):
    """Fake ``/v1/chat/completions``, ``/v1/completions`` and ``/v1/models``.

    Args:
        api_key: expected bearer token (None = any).
        model: id listed by ``/v1/models``.
        reply_fn: messages -> reply text.
    """

    base_path = "/v1"

    def __init__(self, api_key: str | None = None, *, model: str = "fake-gpt",
                 reply_fn: Callable[[list[dict[str, Any]]], str] = _echo) -> None:
        super().__init__(api_key)
        self.model = model
        self.reply_fn = reply_fn

    def check_auth(self, headers: dict[str, str]) -> None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            raise FakeAPIError(401, self.error_body(401, "Incorrect API key provided"))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {429: "rate_limit_exceeded", 400: "invalid_request_error", 401: "invalid_api_key"}.get(
            status, "server_error")
        auth = self.last_headers.get("Authorization", "")
        return {"error": {"message": f"{message} (auth: {auth})", "type": kind, "code": kind}}

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
        if method == "GET" and path == "/v1/models":
            return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                               "owned_by": "fake"}]}
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            raise FakeAPIError(404, self.error_body(404, f"no route {method} {path}"))
        if not isinstance(body, dict) or "model" not in body:
            raise FakeAPIError(400, self.error_body(400, "model is required"))
        if path == "/v1/chat/completions":
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise FakeAPIError(400, self.error_body(400, "messages is required"))
            prompt = "".join(f"{m.get('role')}: {m.get('content')}\n" for m in messages)
            return self._answer(body, prompt, self.reply_fn(messages), chat=True)
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise FakeAPIError(400, self.error_body(400, "prompt must be a string"))
        return self._answer(body, prompt, self.reply_fn([{"role": "user", "content": prompt}]), chat=False)

    def _answer(self, body: dict[str, Any], prompt: str, reply: str, *, chat: bool) -> dict[str, Any]:
        tokens = word_tokens(reply)
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or 16
        finish = "length" if len(tokens) > limit else "stop"
        tokens = tokens[:limit]
        ids = [token_id(t) for t in tokens]
        lps = [-0.01 * (i + 1) for i in range(len(tokens))]
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        shown = [f"token_id:{i}" for i in ids] if as_ids else tokens
        prompt_ids = [token_id(t) for t in word_tokens(prompt)]
        text = "".join(tokens)
        if chat:
            logprobs = None
            if body.get("logprobs"):
                logprobs = {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
                                        for t, lp in zip(shown, lps, strict=True)]}
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": finish, "logprobs": logprobs}
        else:
            logprobs = None
            if body.get("logprobs") is not None:
                offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
                logprobs = {"tokens": shown, "token_logprobs": lps, "top_logprobs": None, "text_offset": offsets}
            choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": logprobs}
        resp: dict[str, Any] = {
            "id": f"fake-{self.api_calls}", "object": "chat.completion" if chat else "text_completion",
            "created": 0, "model": body["model"], "choices": [choice],
            "usage": {"prompt_tokens": len(prompt_ids), "completion_tokens": len(ids),
                      "total_tokens": len(prompt_ids) + len(ids)},
        }
        if body.get("return_token_ids"):
            resp["prompt_token_ids"] = prompt_ids
            choice["token_ids"] = ids
        return resp
