"""Typed spec and result of one sandbox run; every backend consumes and produces exactly these."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

Reason = Literal["ok", "nonzero_exit", "timeout", "oom", "pids_limit", "output_limit", "killed", "error"]
"""Why a sandbox run ended.

ok: exit code 0. nonzero_exit: the command failed on its own. timeout: the watchdog killed it at
``limits.timeout_s``. oom: the memory limit was hit. pids_limit: the process limit was hit (fork bomb).
output_limit: a stream or the output mounts exceeded ``limits.output_limit_mb``. killed: a signal we
did not send (or an external Ctrl-C). error: the backend failed to start the command.
"""

NetworkPolicy = Literal["none", "gateway"]
"""``none``: no network at all (only an unconnected loopback). ``gateway``: no network except one Unix
socket to the model gateway, mounted at ``SandboxSpec.gateway_socket_path``."""

# Destinations that belong to the sandbox's own root; a user mount over them would replace the
# interpreter or the system libraries with something the caller chose.
RESERVED_DESTINATIONS: tuple[str, ...] = (
    "/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/proc", "/dev", "/sys",
    "/opt/sia", "/run", "/var",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Mount(_Frozen):
    """One host path made visible inside the sandbox."""

    host: Path
    """Absolute host path (file or directory). Must exist, except for rw mounts, which are created."""
    sandbox: PurePosixPath
    """Absolute path inside the sandbox."""

    @field_validator("host")
    @classmethod
    def _abs_host(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @field_validator("sandbox")
    @classmethod
    def _abs_sandbox(cls, v: PurePosixPath) -> PurePosixPath:
        if not v.is_absolute():
            raise ValueError(f"sandbox path {str(v)!r} must be absolute (e.g. /data)")
        if ".." in v.parts:
            raise ValueError(f"sandbox path {str(v)!r} must not contain '..'")
        return v

    @classmethod
    def parse(cls, text: str) -> "Mount":
        """Parse the CLI form ``HOST:SANDBOX``."""
        host, sep, dest = text.rpartition(":")
        if not sep or not host or not dest:
            raise ValueError(f"mount {text!r} is not HOST:SANDBOX (e.g. ./data:/data)")
        return cls(host=Path(host), sandbox=PurePosixPath(dest))


class Limits(_Frozen):
    """Resource limits; every one is enforced or the backend refuses the spec."""

    timeout_s: float = Field(60.0, gt=0, le=86400)
    """Wall-clock limit; the watchdog kills the whole process tree when it passes."""
    memory_mb: int = Field(2048, gt=0)
    """Memory (RSS + page cache of the sandbox; swap included where the backend can)."""
    pids: int = Field(256, gt=0)
    """Most processes/threads alive at once (stops fork bombs)."""
    cpus: float = Field(1.0, gt=0)
    """CPU bandwidth in cores (CFS quota)."""
    output_limit_mb: float = Field(64.0, gt=0)
    """Most bytes the sandbox may write to its output mounts, and to each of stdout/stderr; past it the
    run ends with reason ``output_limit`` (streams) or writes fail with ENOSPC (files)."""
    stream_cap_bytes: int = Field(1 << 20, gt=0)
    """How much of each of stdout/stderr is kept in the result; the rest is hashed and dropped."""


class SandboxSpec(_Frozen):
    """Everything needed to run one command in a sandbox. Nothing from the caller's process leaks in."""

    schema_version: int = SCHEMA_VERSION
    command: list[str] = Field(min_length=1)
    """argv; ``command[0]`` is resolved on the sandbox's PATH."""
    ro_mounts: list[Mount] = Field(default_factory=list)
    """Read-only host paths."""
    rw_mounts: list[Mount] = Field(default_factory=list)
    """Writable output directories; their content after the run is listed in ``SandboxResult.outputs``."""
    env: dict[str, str] = Field(default_factory=dict)
    """The complete environment of the command (an allowlist: PATH/HOME/LANG are added if missing)."""
    workdir: PurePosixPath = PurePosixPath("/tmp")
    """Working directory inside the sandbox."""
    limits: Limits = Field(default_factory=Limits)
    network: NetworkPolicy = "none"
    gateway_socket: Path | None = None
    """Host path of the model gateway's Unix socket; required iff ``network == "gateway"``."""
    seccomp: bool = True
    """Install the seccomp filter (blocks ptrace, mount, bpf, kernel modules, namespaces, ...)."""
    gpu: bool = False
    """Ask for a GPU; backends without one refuse the spec."""
    image: str | None = None
    """Container image (docker/modal). None = the backend's default scaffold image."""
    stdin: bytes | None = None
    """Bytes fed to the command's stdin; None = /dev/null."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Free-form identifiers recorded in the audit log (run_id, candidate_id, ...)."""

    @model_validator(mode="after")
    def _check(self) -> "SandboxSpec":
        if self.network == "gateway" and self.gateway_socket is None:
            raise ValueError("network='gateway' needs gateway_socket (the host path of the gateway socket)")
        if self.network == "none" and self.gateway_socket is not None:
            raise ValueError("gateway_socket is set but network='none'; set network='gateway' to use it")
        if not self.workdir.is_absolute():
            raise ValueError(f"workdir {str(self.workdir)!r} must be absolute")
        seen: set[PurePosixPath] = set()
        for m in [*self.ro_mounts, *self.rw_mounts]:
            if m.sandbox in seen:
                raise ValueError(f"two mounts share the sandbox path {str(m.sandbox)}")
            seen.add(m.sandbox)
        return self


GATEWAY_SOCKET_PATH = PurePosixPath("/run/sia/gateway.sock")
"""Where the gateway socket appears inside a sandbox with ``network="gateway"``."""


class OutputFile(_Frozen):
    """One entry of the manifest of what the command left in its rw mounts."""

    path: str
    """Sandbox path (``<mount>/<relative>``)."""
    kind: Literal["file", "dir", "symlink", "other"]
    size: int = 0
    sha256: str | None = None
    """Hash of a regular file's content; None for everything else."""
    link_target: str | None = None
    """For a symlink: where it points (recorded, never followed)."""


class SandboxResult(_Frozen):
    """What happened in one sandbox run."""

    schema_version: int = SCHEMA_VERSION
    sandbox_id: str
    backend: str
    exit_code: int | None
    """The command's exit code; negative = killed by that signal; None when it never started."""
    reason: Reason
    wall_s: float
    cpu_s: float | None = None
    """User + system CPU seconds of the whole process tree, where measurable."""
    peak_memory_mb: float | None = None
    """Peak memory of the sandbox, where measurable."""
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_bytes: int = 0
    """Total bytes the command wrote to stdout (kept or not)."""
    stderr_bytes: int = 0
    stdout_sha256: str = ""
    """sha256 of the full stdout stream, truncated part included."""
    stderr_sha256: str = ""
    outputs: list[OutputFile] = Field(default_factory=list)
    root: str = ""
    """The image id (docker/modal) or a description of the read-only root (local)."""
    enforcement: dict[str, str] = Field(default_factory=dict)
    """How each limit was enforced (e.g. ``memory: cgroup-v1 memory.limit_in_bytes``)."""
    detail: str = ""
    """Backend message for ``error``/``killed`` reasons."""
