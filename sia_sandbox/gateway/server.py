"""The model gateway: an OpenAI-compatible HTTP server on Unix sockets, outside every sandbox.

A sandbox reaches a model only through the socket of its own session (``open_session``): the socket
fixes which sandbox run a call is recorded against, so a scaffold cannot claim another run's id. Every
call is recorded (``RolloutStore.record_model_call``) before its answer is sent; a call that cannot be
recorded is not served. Per-run budgets turn into HTTP 429 ``budget_exceeded`` for the scaffold and a
``BudgetExceededError`` for the platform (``Gateway.raise_if_budget_exceeded``).

What this does NOT protect against: a scaffold spending its whole budget (that is what budgets are for),
or prompt content itself (the model sees whatever the scaffold sends). Credentials live in the backend;
the gateway additionally scrubs the backend's ``secrets()`` from every byte it serves.
"""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Self

import structlog

from sia_sandbox.errors import BudgetExceededError, GatewayError
from sia_sandbox.gateway.backends import ModelBackend
from sia_sandbox.gateway.handler import GatewayHandler
from sia_sandbox.gateway.types import GatewayBudgets, Generation, GenerationRequest
from sia_sandbox.rollouts import ModelCall, RolloutStore, Usage

log = structlog.get_logger(__name__)

SESSIONS_DIRNAME = "sessions"
SESSION_SOCKET_NAME = "gateway.sock"
_MAX_UNIX_PATH = 107  # sun_path is 108 bytes including the NUL


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One listening socket; tracks its connections so closing a session cuts them all."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, path: Path, gateway: Gateway, session: str | None, max_conns: int) -> None:
        self.gateway = gateway
        self.session = session
        self.max_conns = max_conns
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(str(path), GatewayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            over = len(self._conns) >= self.max_conns
            if not over:
                self._conns.add(request)
        if over:
            # Each connection costs a host thread; a sandbox may not open unboundedly many.
            body = b'{"error":{"type":"too_many_connections","message":"too many open connections"}}'
            try:
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Listener:
    """A server plus its thread and socket path."""

    def __init__(self, server: _UnixServer, path: Path) -> None:
        self.server = server
        self.path = path
        self.thread = threading.Thread(target=server.serve_forever, name=f"sia-gateway:{path.name}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.cut_connections()
        self.thread.join(timeout=10)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class Gateway:
    """Serves ``backend`` to sandboxes of run ``run_id`` and records every call in ``store``.

    Lifecycle: ``start(socket_path)`` (the platform's own socket; calls on it have no sandbox run),
    then per sandbox run ``record_sandbox_run`` in the store, ``open_session(sandbox_run_id)`` (mount
    the returned socket into that sandbox only), run the sandbox, ``close_session``; finally ``stop()``.
    The backend belongs to the caller and is not closed by ``stop``.

    Args:
        store: where calls are recorded (and budgets resumed from, on a re-opened run).
        backend: the model backend.
        run_id: the run every call is recorded against.
        budgets: per-run limits; None = ``GatewayBudgets()`` (no call/token limit, 1024 tokens per call).
    """

    def __init__(
        self, store: RolloutStore, backend: ModelBackend, run_id: str, budgets: GatewayBudgets | None = None
    ) -> None:
        self.store = store
        self.backend = backend
        self.run_id = run_id
        self.budgets = budgets or GatewayBudgets()
        self._log = log.bind(run_id=run_id, backend=backend.name, model=backend.model_name)
        self._lock = threading.Lock()
        self._main: _Listener | None = None
        self._sessions: dict[str, _Listener] = {}
        used = store.usage(run_id)  # resuming a run resumes its budget
        self._calls = used.calls
        self._tokens = used.total_tokens
        self._inflight = 0
        self._budget_error: BudgetExceededError | None = None
        self._secrets = [s for s in backend.secrets() if s]

    # ----------------------------------------------------------------- lifecycle

    @property
    def socket_path(self) -> Path | None:
        """The platform's own socket, once started."""
        return self._main.path if self._main else None

    def start(self, socket_path: Path) -> Path:
        """Listen on ``socket_path`` (mode 0600: for the platform, never mount it into a sandbox).

        Raises:
            GatewayError: already started, the path is too long for a Unix socket, or is taken by a file.
        """
        with self._lock:
            if self._main is not None:
                raise GatewayError(f"gateway for run {self.run_id} is already started at {self._main.path}")
            self._main = self._listen(Path(socket_path), session=None, mode=0o600)
        self._log.info("gateway.started", socket=str(socket_path))
        return Path(socket_path)

    def stop(self) -> None:
        """Close every session and the platform socket (idempotent). Recorded calls stay recorded."""
        with self._lock:
            listeners = [*self._sessions.values(), *([self._main] if self._main else [])]
            self._sessions.clear()
            self._main = None
        for listener in listeners:
            listener.close()
        if listeners:
            self._log.info("gateway.stopped")

    def open_session(self, sandbox_run_id: str) -> Path:
        """Create the dedicated socket of one sandbox run (mode 0666 in a 0755 dir, for the sandbox uid).

        The sandbox run must already be recorded (``store.record_sandbox_run``) for this gateway's run.

        Returns:
            Host path of the socket; pass it as ``SandboxSpec.gateway_socket``.

        Raises:
            GatewayError: the gateway is not started, the sandbox run is unknown or belongs to another run,
                or a session for it is already open.
        """
        known = self.store.sandbox_run(sandbox_run_id)
        if known is None or known["run_id"] != self.run_id:
            raise GatewayError(
                f"sandbox run {sandbox_run_id!r} is not recorded for run {self.run_id}",
                hint="call store.record_sandbox_run(...) before gateway.open_session(...)",
            )
        with self._lock:
            if self._main is None:
                raise GatewayError("gateway is not started", hint="call gateway.start(socket_path) first")
            if sandbox_run_id in self._sessions:
                raise GatewayError(f"a gateway session for sandbox run {sandbox_run_id!r} is already open")
            digest = hashlib.sha256(sandbox_run_id.encode("utf-8")).hexdigest()[:16]
            session_dir = self._main.path.parent / SESSIONS_DIRNAME / digest
            session_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(session_dir.parent, 0o755)
            os.chmod(session_dir, 0o755)
            listener = self._listen(session_dir / SESSION_SOCKET_NAME, session=sandbox_run_id, mode=0o666)
            self._sessions[sandbox_run_id] = listener
        self._log.info("gateway_session.opened", sandbox_run_id=sandbox_run_id, socket=str(listener.path))
        return listener.path

    def close_session(self, sandbox_run_id: str) -> None:
        """Stop serving a sandbox run's socket and cut its open connections (idempotent)."""
        with self._lock:
            listener = self._sessions.pop(sandbox_run_id, None)
        if listener is not None:
            listener.close()
            try:
                listener.path.parent.rmdir()
            except OSError:
                pass
            self._log.info("gateway_session.closed", sandbox_run_id=sandbox_run_id)

    def _listen(self, path: Path, *, session: str | None, mode: int) -> _Listener:
        if len(os.fsencode(path)) > _MAX_UNIX_PATH:
            raise GatewayError(
                f"socket path {path} is longer than {_MAX_UNIX_PATH} bytes, the Unix socket limit",
                hint="start the gateway under a shorter directory (e.g. /tmp/sia-<run>)",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise GatewayError(f"cannot listen on {path}: a non-socket file is there", hint="remove it")
            path.unlink()  # a stale socket of a crashed gateway
        server = _UnixServer(path, self, session, self.budgets.max_concurrent_per_session)
        os.chmod(path, mode)
        return _Listener(server, path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- budgets

    @property
    def budget_error(self) -> BudgetExceededError | None:
        """The first budget refusal of this gateway, or None."""
        return self._budget_error

    def raise_if_budget_exceeded(self) -> None:
        """Raise the budget error the gateway answered a call with, if any.

        Raises:
            BudgetExceededError: a call was refused because a run budget is exhausted.
        """
        if self._budget_error is not None:
            raise self._budget_error

    def usage(self) -> Usage:
        """Calls and tokens recorded for this run (all sessions, earlier processes included)."""
        return self.store.usage(self.run_id)

    def _reserve(self, max_tokens: int) -> int:
        """Count a call in flight; returns its max_tokens, capped by the remaining token budget."""
        b = self.budgets
        with self._lock:
            reason = None
            if b.max_calls is not None and self._calls + self._inflight >= b.max_calls:
                reason = f"run {self.run_id} used its budget of {b.max_calls} model calls"
            elif b.max_tokens is not None and self._tokens >= b.max_tokens:
                reason = f"run {self.run_id} used its budget of {b.max_tokens} tokens ({self._tokens} used)"
            if reason is not None:
                err = BudgetExceededError(reason, hint="raise the gateway budgets in the run config")
                if self._budget_error is None:
                    self._budget_error = err
                self._log.warning("gateway.budget_exceeded", reason=reason)
                raise err
            self._inflight += 1
            if b.max_tokens is not None:
                max_tokens = max(1, min(max_tokens, b.max_tokens - self._tokens))
            return max_tokens

    def _settle(self, gen: Generation | None) -> None:
        with self._lock:
            self._inflight -= 1
            if gen is not None:
                self._calls += 1
                self._tokens += gen.prompt_tokens + gen.completion_tokens

    # ----------------------------------------------------------------- serving

    def serve(self, session: str | None, request: GenerationRequest, messages: list[dict[str, Any]]) -> tuple[
        Generation, str
    ]:
        """Generate, record, and return ``(generation, call_id)``; used by the HTTP handler.

        Raises:
            BudgetExceededError: a run budget is exhausted (nothing is generated).
            BackendRequestError / UpstreamError: from the backend (nothing is recorded).
            sqlite3.Error: the call could not be recorded (it is then not served).
        """
        max_tokens = min(request.max_tokens, self.budgets.max_tokens_per_call)
        max_tokens = self._reserve(max_tokens)
        request = request.model_copy(update={"max_tokens": max_tokens})
        gen: Generation | None = None
        try:
            t0 = time.perf_counter()
            gen = self.backend.generate(request)
            latency = time.perf_counter() - t0
            call = ModelCall(
                call_id=uuid.uuid4().hex, run_id=self.run_id, sandbox_run_id=session, model=gen.model,
                adapter_version=gen.adapter_version, messages=messages, prompt=gen.prompt,
                completion=gen.completion, prompt_token_ids=gen.prompt_token_ids,
                completion_token_ids=gen.completion_token_ids, token_logprobs=gen.token_logprobs,
                prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                latency_s=latency, created_at=time.time(),
            )
            self.store.record_model_call(call)
        except BaseException:
            self._settle(None)
            raise
        self._settle(gen)
        self._log.debug("model_call.recorded", call_id=call.call_id, sandbox_run_id=session,
                        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens)
        return gen, call.call_id

    def redact(self, data: bytes) -> bytes:
        """Replace every backend credential in ``data`` (defence in depth: none should be there)."""
        for s in self._secrets:
            data = data.replace(s.encode("utf-8"), b"[redacted]")
        return data
