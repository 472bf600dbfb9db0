"""Local fake model APIs on 127.0.0.1 for the REAL ``openai`` and ``anthropic`` SDK clients.

- ``tests.fakes.fake_openai_server.FakeOpenAIServer``: chat completions + completions with logprobs
  (and vLLM's ``return_token_ids`` / ``return_tokens_as_token_ids`` extensions), ``/v1/models``.
- ``tests.fakes.fake_anthropic_server.FakeAnthropicServer``: the messages API with text and
  ``tool_use`` blocks, scripted replies, ``tool_result`` inputs.

Both: ``with Fake...(api_key="k") as srv:`` then point the SDK at ``srv.base_url``; ``srv.fail_next(n,
status)`` answers the next ``n`` API calls with that error (429, 500, 529, ...; with ``retry-after-ms: 1``
so SDK retries are instant), then succeeds; ``srv.requests`` lists every request received (path,
headers, JSON body); ``srv.api_calls`` counts API calls, failed ones included.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeAPIError(Exception):
    """Raised by a route to answer ``status`` with ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class FakeAPIServer:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> whose routes subclasses define.

    Subclasses implement ``route(method, path, headers, body) -> dict`` (raising ``FakeAPIError``) and
    ``error_body(status, message) -> dict``.
    """

    base_path = ""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.api_calls = 0
        self.last_headers: dict[str, str] = {}
        self._failures: list[int] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake._dispatch(method, self.path, dict(self.headers), raw)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return self.url + self.base_path

    def fail_next(self, n: int, status: int = 429) -> None:
        """Answer the next ``n`` API calls with ``status`` (then succeed again)."""
        with self._lock:
            self._failures.extend([status] * n)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[
        int, dict[str, Any], dict[str, str]
    ]:
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            self.last_headers = headers
            failure = None
            if method == "POST":
                self.api_calls += 1
                failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure, self.error_body(failure, f"injected failure {failure}"), {"retry-after-ms": "1"}
        try:
            self.check_auth(headers)
            return 200, self.route(method, path.split("?", 1)[0], headers, body), {}
        except FakeAPIError as e:
            return e.status, e.body, {}

    def check_auth(self, headers: dict[str, str]) -> None:
        """Raise FakeAPIError(401) when the request lacks the expected key."""

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError


def word_tokens(text: str) -> list[str]:
    """Deterministic toy tokenisation: words and the whitespace runs between them."""
    return re.findall(r"\S+|\s+", text)


def token_id(tok: str) -> int:
    """Stable toy id of a token (crc32 mod 50k)."""
    return zlib.crc32(tok.encode("utf-8")) % 50_000
