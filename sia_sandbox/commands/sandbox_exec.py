"""``sia sandbox exec``: build a spec from flags, run it audited, print the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sia_sandbox.audit import AuditLog
from sia_sandbox.config import get_settings
from sia_sandbox.errors import ConfigError, SandboxSpecError
from sia_sandbox.sandbox.runner import new_sandbox_id, run_sandbox
from sia_sandbox.sandbox.types import Limits, Mount, SandboxSpec


_FLAG_OF_FIELD = {
    "timeout_s": "--timeout", "memory_mb": "--memory", "pids": "--pids", "cpus": "--cpus",
    "output_limit_mb": "--output-limit", "network": "--network", "workdir": "--workdir", "command": "CMD",
}


def _first_error(e: ValidationError) -> str:
    first = e.errors()[0]
    loc = [str(p) for p in first["loc"]]
    where = _FLAG_OF_FIELD.get(loc[-1], ".".join(loc)) if loc else "spec"
    return f"{where}: {first['msg']}"


def build_spec(
    *, cmd: list[str], ro: list[str], rw: list[str], timeout: float, memory: int, pids: int, cpus: float,
    output_limit: float, env: list[str], network: str, workdir: str, seccomp: bool,
) -> SandboxSpec:
    """Turn CLI flags into a spec.

    Raises:
        SandboxSpecError: a flag is malformed; the message names it.
    """
    if not cmd:
        raise SandboxSpecError("no command given", hint="put the command after `--`, e.g. `sia sandbox exec -- python3 -c pass`")
    env_map: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SandboxSpecError(f"--env {item!r} is not KEY=VALUE")
        env_map[key] = value
    try:
        ro_m = [Mount.parse(m) for m in ro]
        rw_m = [Mount.parse(m) for m in rw]
        limits = Limits(timeout_s=timeout, memory_mb=memory, pids=pids, cpus=cpus, output_limit_mb=output_limit)
        return SandboxSpec(
            command=cmd, ro_mounts=ro_m, rw_mounts=rw_m, env=env_map, workdir=PurePosixPath(workdir),
            limits=limits, network=network, seccomp=seccomp,  # type: ignore[arg-type]
        )
    except ValidationError as e:
        raise SandboxSpecError(f"bad sandbox spec: {_first_error(e)}", hint="see `sia sandbox exec --help`") from e
    except ValueError as e:
        raise SandboxSpecError(f"bad sandbox spec: {e}", hint="see `sia sandbox exec --help`") from e


def exec_command(
    *, cmd: list[str], backend: str | None, ro: list[str], rw: list[str], timeout: float, memory: int,
    pids: int, cpus: float, output_limit: float, env: list[str], network: str, workdir: str, seccomp: bool,
    audit_log: Path, as_json: bool,
) -> int:
    backend_name = backend or get_settings().backend
    sandbox_id = new_sandbox_id()
    with AuditLog(audit_log, run_id="sandbox-exec") as audit:
        try:
            spec = build_spec(
                cmd=cmd, ro=ro, rw=rw, timeout=timeout, memory=memory, pids=pids, cpus=cpus,
                output_limit=output_limit, env=env, network=network, workdir=workdir, seccomp=seccomp,
            )
        except ConfigError as e:
            audit.emit("sandbox.refused", sandbox_id=sandbox_id, backend=backend_name, error=e.message, hint=e.hint)
            raise
        result = run_sandbox(spec, backend=backend_name, audit=audit, sandbox_id=sandbox_id)
    if as_json:
        payload = result.model_dump(mode="json")
        payload["audit_log"] = str(audit.path)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    table = Table(title=f"sandbox {result.sandbox_id} ({result.backend})", show_header=False)
    for k, v in [
        ("reason", result.reason), ("exit_code", result.exit_code), ("wall_s", f"{result.wall_s:.3f}"),
        ("cpu_s", result.cpu_s), ("peak_memory_mb", result.peak_memory_mb),
        ("stdout", f"{result.stdout_bytes} B{' (truncated)' if result.stdout_truncated else ''}"),
        ("stderr", f"{result.stderr_bytes} B{' (truncated)' if result.stderr_truncated else ''}"),
        ("outputs", len(result.outputs)), ("audit_log", str(audit.path)),
    ]:
        table.add_row(k, str(v))
    Console(stderr=True).print(table)
    return 0
