"""Run a spec on a backend and record it in the audit log: the one way the platform starts sandboxes."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import structlog

from sia_sandbox.audit import AuditLog
from sia_sandbox.errors import SiaError
from sia_sandbox.sandbox.base import SandboxBackend
from sia_sandbox.sandbox.registry import get_backend
from sia_sandbox.sandbox.types import SandboxResult, SandboxSpec

log = structlog.get_logger(__name__)


def new_sandbox_id() -> str:
    return "sb-" + secrets.token_hex(6)


def spec_record(spec: SandboxSpec) -> dict[str, Any]:
    """The spec as the audit log keeps it: environment values are hashed, never stored."""
    data = spec.model_dump(mode="json", exclude={"env", "stdin"})
    data["env"] = {k: "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in spec.env.items()}
    data["stdin_sha256"] = hashlib.sha256(spec.stdin).hexdigest() if spec.stdin is not None else None
    return data


def result_record(result: SandboxResult) -> dict[str, Any]:
    """The result without the captured streams (their sizes and hashes stay)."""
    return result.model_dump(mode="json", exclude={"stdout", "stderr"})


def run_sandbox(
    spec: SandboxSpec,
    *,
    backend: str | SandboxBackend,
    audit: AuditLog | None = None,
    sandbox_id: str | None = None,
) -> SandboxResult:
    """Check, run and audit one sandbox.

    Events: ``sandbox.requested`` (spec), then ``sandbox.finished`` (result) or ``sandbox.refused``
    (the error) - the refusal is recorded before the error propagates, so the log stays whole.

    Raises:
        SandboxSpecError, LimitNotEnforceableError, BackendUnavailableError, SandboxError, ConfigError.
    """
    sid = sandbox_id or new_sandbox_id()
    blog = log.bind(sandbox_id=sid)
    try:
        be = get_backend(backend) if isinstance(backend, str) else backend
    except SiaError as e:
        if audit:
            audit.emit("sandbox.refused", sandbox_id=sid, backend=str(backend), error=e.message, hint=e.hint)
        raise
    if audit:
        audit.emit("sandbox.requested", sandbox_id=sid, backend=be.name, spec=spec_record(spec))
    try:
        be.check(spec)
        result = be.run(spec, sandbox_id=sid)
    except SiaError as e:
        if audit:
            audit.emit("sandbox.refused", sandbox_id=sid, backend=be.name, error=e.message, hint=e.hint,
                       error_type=type(e).__name__)
        blog.warning("sandbox.refused", error=e.message)
        raise
    except BaseException as e:
        if audit:
            audit.emit("sandbox.crashed", sandbox_id=sid, backend=be.name, error=repr(e)[:500])
        raise
    if audit:
        audit.emit("sandbox.finished", sandbox_id=sid, backend=be.name, result=result_record(result))
        if result.reason not in ("ok", "nonzero_exit"):
            audit.emit("sandbox.limit_hit", sandbox_id=sid, backend=be.name, reason=result.reason,
                       detail=result.detail)
    blog.info("sandbox.finished", reason=result.reason, exit_code=result.exit_code, wall_s=round(result.wall_s, 3))
    return result
