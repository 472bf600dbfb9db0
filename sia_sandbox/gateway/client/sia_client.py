"""Client of the sia model gateway for code running inside a sandbox. Standard library only.

The platform mounts this directory read-only at ``/opt/sia/client`` and sets ``PYTHONPATH`` to it, and
mounts the sandbox run's gateway socket at ``/run/sia/gateway.sock`` (override: ``SIA_GATEWAY_SOCKET``)::

    import sia_client
    text = sia_client.chat([{"role": "user", "content": "Write a haiku"}], max_tokens=64)
    text = sia_client.complete("def fib(n):", max_tokens=64, temperature=0)

The openai SDK works over the same socket (the API key is not checked; the real one never enters a
sandbox)::

    import httpx, openai
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="unused",
                           http_client=httpx.Client(transport=httpx.HTTPTransport(uds=sock)))

``openai_client()`` builds exactly that. Errors are raised as ``GatewayCallError`` with the HTTP status
and the gateway's error type (``budget_exceeded`` = stop calling: the run's budget is spent).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any

SOCKET_ENV = "SIA_GATEWAY_SOCKET"
DEFAULT_SOCKET = "/run/sia/gateway.sock"
DEFAULT_TIMEOUT_S = 600.0


class GatewayCallError(Exception):
    """The gateway answered with an error (``status``, ``type``) or could not be reached (status 0)."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(f"gateway error {status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("gateway", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_path() -> str:
    """The gateway socket: ``$SIA_GATEWAY_SOCKET`` or ``/run/sia/gateway.sock``."""
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def request(method: str, path: str, body: dict[str, Any] | None = None, *, sock: str | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """One HTTP request to the gateway; returns the JSON body.

    Raises:
        GatewayCallError: the gateway is unreachable (status 0) or answered an error status.
    """
    conn = _UnixHTTPConnection(sock or socket_path(), timeout)
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
    except OSError as e:
        raise GatewayCallError(0, "unreachable", f"{sock or socket_path()}: {e}") from e
    finally:
        conn.close()
    try:
        payload = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        payload = {"error": {"type": "invalid_response", "message": raw[:200].decode("utf-8", "replace")}}
    if status >= 400:
        err = payload.get("error", {}) if isinstance(payload, dict) else {}
        raise GatewayCallError(status, str(err.get("type", "error")), str(err.get("message", "")))
    return payload


def chat_response(messages: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """``POST /v1/chat/completions``; returns the whole OpenAI-shaped response.

    Args:
        messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
        **kw: ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``, ``logprobs``, ``model``;
            ``sock``/``timeout`` select the socket and the timeout.
    """
    sock, timeout = kw.pop("sock", None), kw.pop("timeout", DEFAULT_TIMEOUT_S)
    return request("POST", "/v1/chat/completions", {"messages": messages, **kw}, sock=sock, timeout=timeout)


def chat(messages: list[dict[str, Any]], **kw: Any) -> str:
    """The assistant's reply text to ``messages`` (see ``chat_response`` for the keywords)."""
    return str(chat_response(messages, **kw)["choices"][0]["message"]["content"])


def complete(prompt: str, **kw: Any) -> str:
    """``POST /v1/completions``: the continuation of ``prompt`` (keywords as ``chat_response``)."""
    sock, timeout = kw.pop("sock", None), kw.pop("timeout", DEFAULT_TIMEOUT_S)
    resp = request("POST", "/v1/completions", {"prompt": prompt, **kw}, sock=sock, timeout=timeout)
    return str(resp["choices"][0]["text"])


def models(*, sock: str | None = None) -> list[str]:
    """Ids of the served models."""
    return [m["id"] for m in request("GET", "/v1/models", sock=sock)["data"]]


def health(*, sock: str | None = None) -> dict[str, Any]:
    """``GET /health``."""
    return request("GET", "/health", sock=sock)


def openai_client(sock: str | None = None) -> Any:
    """An ``openai.OpenAI`` client that talks to the gateway over its socket (needs openai + httpx)."""
    import httpx
    import openai

    # openai>=3 types http_client as httpx2.Client but accepts a legacy httpx.Client at runtime.
    http_client: Any = httpx.Client(transport=httpx.HTTPTransport(uds=sock or socket_path()))
    return openai.OpenAI(base_url="http://gateway/v1", api_key="unused", http_client=http_client, max_retries=0)
