"""Fake Anthropic messages API (``POST /v1/messages``) for the real ``anthropic`` SDK.

Replies come from a FIFO of scripted replies (``queue_text``, ``queue_tool_use``, ``queue_reply``), else
from ``reply_fn(body)`` (default: ``"echo: <last user text>"``). ``tool_use`` blocks get ids
``toolu_fake_<n>`` and ``stop_reason="tool_use"``; ``tool_result`` blocks in later requests are accepted
(their text counts as the "last user text"). Requests are validated like the real API where a client
bug would show: ``max_tokens`` and ``messages`` required, roles ``user``/``assistant`` only, the first
message from the user, ``tool_result`` ids must answer an earlier ``tool_use``. Streaming is refused
with a 400 saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes import FakeAPIError, FakeAPIServer, word_tokens

_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for b in content or []:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            parts.append(str(b.get("text", "")))
        elif b.get("type") == "tool_result":
            parts.append(_block_text(b.get("content", "")))
    return "".join(parts)


def _echo(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if m.get("role") == "user"]
    return f"echo: {_block_text(users[-1]['content']) if users else ''}"


class FakeAnthropicServer(FakeAPIServer):
    """Fake messages API.

    Args:
        api_key: expected ``x-api-key`` (None = any).
        reply_fn: request body -> reply text, when nothing is queued.
    """

    def __init__(self, api_key: str | None = None, *,
                 reply_fn: Callable[[dict[str, Any]], str] = _echo) -> None:
        super().__init__(api_key)
        self.reply_fn = reply_fn
        self._queue: list[dict[str, Any]] = []
        self._tool_n = 0

    # ----------------------------------------------------------------- scripting

    def queue_reply(self, content: list[dict[str, Any]], stop_reason: str | None = None) -> None:
        """Queue a reply made of content blocks (``{"type": "text", "text": ...}`` /
        ``{"type": "tool_use", "name": ..., "input": {...}}``; tool ids are filled in)."""
        blocks = []
        for b in content:
            b = dict(b)
            if b.get("type") == "tool_use":
                self._tool_n += 1
                b.setdefault("id", f"toolu_fake_{self._tool_n}")
                b.setdefault("input", {})
            blocks.append(b)
        if stop_reason is None:
            stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        with self._lock:
            self._queue.append({"content": blocks, "stop_reason": stop_reason})

    def queue_text(self, text: str) -> None:
        """Queue a plain text reply."""
        self.queue_reply([{"type": "text", "text": text}])

    def queue_tool_use(self, name: str, input: dict[str, Any], text: str | None = None) -> None:
        """Queue a reply that calls tool ``name`` with ``input`` (optionally after some text)."""
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        self.queue_reply([*blocks, {"type": "tool_use", "name": name, "input": input}])

    # ----------------------------------------------------------------- API

    def check_auth(self, headers: dict[str, str]) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        # SDK versions differ: older ones send x-api-key, newer ones Authorization: Bearer.
        ok = h.get("x-api-key") == self.api_key or h.get("authorization") == f"Bearer {self.api_key}"
        if self.api_key is not None and not ok:
            raise FakeAPIError(401, self.error_body(401, "invalid x-api-key"))
        if not h.get("anthropic-version"):
            raise FakeAPIError(400, self.error_body(400, "anthropic-version header is required"))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
        if method != "POST" or path != "/v1/messages":
            raise FakeAPIError(404, self.error_body(404, f"no route {method} {path}"))
        self._validate(body)
        with self._lock:
            queued = self._queue.pop(0) if self._queue else None
        reply = queued or {"content": [{"type": "text", "text": self.reply_fn(body)}], "stop_reason": "end_turn"}
        content, stop = reply["content"], reply["stop_reason"]
        out_tokens = sum(len(word_tokens(b.get("text", ""))) + (8 if b["type"] == "tool_use" else 0)
                         for b in content)
        if out_tokens > body["max_tokens"] and stop == "end_turn":
            text = "".join(word_tokens(_block_text(content))[: body["max_tokens"]])
            content, stop, out_tokens = [{"type": "text", "text": text}], "max_tokens", body["max_tokens"]
        in_tokens = sum(len(word_tokens(_block_text(m["content"]))) for m in body["messages"])
        return {
            "id": f"msg_fake_{self.api_calls}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens},
        }

    def _validate(self, body: Any) -> None:
        def bad(msg: str) -> FakeAPIError:
            return FakeAPIError(400, self.error_body(400, msg))

        if not isinstance(body, dict):
            raise bad("body must be a JSON object")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                raise bad(f"{field}: Field required")
        if body.get("stream"):
            raise bad("the fake Anthropic server does not support stream=true")
        msgs = body["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise bad("messages: at least one message is required")
        if msgs[0].get("role") != "user":
            raise bad("messages: first message must use the 'user' role")
        seen_tools: set[str] = set()
        for m in msgs:
            if m.get("role") not in ("user", "assistant"):
                raise bad(f"messages: unexpected role {m.get('role')!r}; use the top-level system parameter")
            for b in m["content"] if isinstance(m.get("content"), list) else []:
                if b.get("type") == "tool_use":
                    seen_tools.add(b.get("id", ""))
                if b.get("type") == "tool_result" and b.get("tool_use_id") not in seen_tools:
                    raise bad(f"tool_result {b.get('tool_use_id')!r} does not answer an earlier tool_use")
