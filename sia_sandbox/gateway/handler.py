"""HTTP request handler of the gateway: OpenAI-compatible routes, validation, error bodies.

Every error body is ``{"error": {"type": ..., "message": ...}}``, the shape the openai SDK parses.
"""

from __future__ import annotations

import json
import sqlite3
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError

from sia_sandbox.errors import BudgetExceededError
from sia_sandbox.gateway.backends import BackendRequestError, UpstreamError
from sia_sandbox.gateway.types import (
    MAX_REQUEST_BYTES,
    ChatCompletionRequest,
    CompletionRequest,
    Generation,
    GenerationRequest,
)

if TYPE_CHECKING:
    from sia_sandbox.gateway.server import Gateway

log = structlog.get_logger(__name__)

IDLE_TIMEOUT_S = 60.0
"""A connection that sends nothing for this long is closed (keeps stalled clients from holding threads)."""


class HTTPProblemError(Exception):
    """An error answered to the client as JSON."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def _validation_message(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)


class GatewayHandler(BaseHTTPRequestHandler):
    """Routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``, ``GET /health``."""

    protocol_version = "HTTP/1.1"
    server_version = "sia-gateway"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    @property
    def gateway(self) -> Gateway:
        return self.server.gateway  # type: ignore[attr-defined,no-any-return]

    @property
    def session(self) -> str | None:
        return self.server.session  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib logs client_address[0], which is empty on a Unix socket; requests are logged below.
        return

    # ----------------------------------------------------------------- routing

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, {"status": "ok", "model": self.gateway.backend.model_name})
        elif path == "/v1/models":
            model = {"id": self.gateway.backend.model_name, "object": "model", "created": 0, "owned_by": "sia"}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._problem(HTTPProblemError(404, "not_found", f"no route GET {path}"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/v1/chat/completions":
                self._send(200, self._chat(self._read_json()))
            elif path == "/v1/completions":
                self._send(200, self._completion(self._read_json()))
            else:
                self._drain()
                raise HTTPProblemError(404, "not_found", f"no route POST {path}")
        except HTTPProblemError as p:
            self._problem(p)
        except BudgetExceededError as e:
            self._problem(HTTPProblemError(429, "budget_exceeded", e.message))
        except BackendRequestError as e:
            self._problem(HTTPProblemError(400, "invalid_request_error", e.message))
        except UpstreamError as e:
            self._problem(HTTPProblemError(502, "upstream_error", e.message))
        except sqlite3.Error as e:
            log.error("model_call.unrecorded", error=type(e).__name__, sandbox_run_id=self.session)
            self._problem(HTTPProblemError(500, "internal_error", "the call could not be recorded; it was not served"))
        except Exception as e:  # the gateway must answer, not drop the connection; the cause is logged
            log.exception("gateway.request_failed", sandbox_run_id=self.session, path=path)
            self._problem(HTTPProblemError(500, "internal_error", f"internal gateway error ({type(e).__name__})"))

    def do_PUT(self) -> None:
        self._drain()
        self._problem(HTTPProblemError(405, "method_not_allowed", "only GET and POST are supported"))

    do_DELETE = do_PATCH = do_PUT

    # ----------------------------------------------------------------- endpoints

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            req = ChatCompletionRequest.model_validate(body)
        except ValidationError as e:
            raise HTTPProblemError(400, "invalid_request_error", _validation_message(e)) from None
        messages = [m.model_dump() for m in req.messages]
        gen, call_id = self.gateway.serve(self.session, self._gen_request(req, messages=messages), messages)
        logprobs: dict[str, Any] | None = None
        if req.logprobs and gen.token_logprobs:
            logprobs = {"content": [
                {"token": f"token_id:{t}", "logprob": lp, "bytes": None, "top_logprobs": []}
                for t, lp in zip(gen.completion_token_ids, gen.token_logprobs, strict=False)
            ]}
        choice = {"index": 0, "message": {"role": "assistant", "content": gen.completion},
                  "finish_reason": gen.finish_reason, "logprobs": logprobs}
        return self._envelope(f"chatcmpl-{call_id}", "chat.completion", gen, choice)

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            req = CompletionRequest.model_validate(body)
        except ValidationError as e:
            raise HTTPProblemError(400, "invalid_request_error", _validation_message(e)) from None
        gen, call_id = self.gateway.serve(self.session, self._gen_request(req, prompt=req.prompt), [])
        choice = {"index": 0, "text": gen.completion, "finish_reason": gen.finish_reason, "logprobs": None}
        return self._envelope(f"cmpl-{call_id}", "text_completion", gen, choice)

    def _gen_request(self, req: Any, **what: Any) -> GenerationRequest:
        budgets = self.gateway.budgets
        asked = getattr(req, "max_completion_tokens", None) or req.max_tokens or budgets.default_max_tokens
        return GenerationRequest(max_tokens=asked, temperature=req.temperature, top_p=req.top_p,
                                 stop=req.stop, seed=req.seed, **what)

    @staticmethod
    def _envelope(id_: str, object_: str, gen: Generation, choice: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": id_, "object": object_, "created": int(time.time()), "model": gen.model,
            "choices": [choice],
            "usage": {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                      "total_tokens": gen.prompt_tokens + gen.completion_tokens},
        }

    # ----------------------------------------------------------------- I/O

    def _read_json(self) -> dict[str, Any]:
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length_text is None:
            self.close_connection = True
            raise HTTPProblemError(411, "invalid_request_error", "a Content-Length header is required")
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise HTTPProblemError(400, "invalid_request_error", "Content-Length is not a number") from None
        if length < 0 or length > MAX_REQUEST_BYTES:
            self.close_connection = True
            raise HTTPProblemError(413, "invalid_request_error", f"request body exceeds {MAX_REQUEST_BYTES} bytes")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as e:
            raise HTTPProblemError(400, "invalid_request_error", f"request body is not valid JSON: {e.msg}") from None
        except UnicodeDecodeError:
            raise HTTPProblemError(400, "invalid_request_error", "request body is not UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise HTTPProblemError(400, "invalid_request_error", "request body must be a JSON object")
        return body

    def _drain(self) -> None:
        """Read and drop a body we will not use, so the keep-alive connection stays in sync."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_REQUEST_BYTES:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _problem(self, p: HTTPProblemError) -> None:
        log.info("gateway.request_refused", status=p.status, type=p.type, sandbox_run_id=self.session)
        self._send(p.status, {"error": {"type": p.type, "message": p.message, "code": p.type}})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = self.gateway.redact(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if 400 <= status < 500:
            # Retrying cannot help (a spent budget stays spent); tell the openai/anthropic SDKs not to.
            self.send_header("x-should-retry", "false")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
