"""The backend interface: one verb (``run``) plus capability data and a health check."""

from __future__ import annotations

import abc
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from sia_sandbox.sandbox.types import SandboxResult, SandboxSpec


class Capabilities(BaseModel):
    """What a backend can enforce. Asking for something it cannot do is an error, never a no-op."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network_none: bool = True
    network_gateway: bool = False
    gpu: bool = False
    seccomp: bool = False
    memory_limit: bool = True
    pids_limit: bool = True
    cpu_limit: bool = True
    output_limit: bool = True


class BackendStatus(BaseModel):
    """One line of ``sia doctor``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str
    usable: bool
    detail: str
    """What works, or why it does not."""
    fix: str | None = None
    """How to make it usable."""


class SandboxBackend(abc.ABC):
    """A way to run a ``SandboxSpec``.

    Lifecycle: ``status()`` says whether the backend can run here; ``check(spec)`` raises on a spec it
    cannot enforce (before anything starts); ``run(spec)`` runs it to completion and always cleans up.
    """

    name: ClassVar[str]
    max_concurrency: ClassVar[int] = 8
    """Default cap on simultaneous sandboxes of this backend (see ``sandbox.pool``)."""

    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this backend enforces on this machine."""

    @abc.abstractmethod
    def status(self) -> BackendStatus:
        """Whether the backend works here, and if not why and how to fix it. Never raises."""

    @abc.abstractmethod
    def check(self, spec: SandboxSpec) -> None:
        """Validate a spec against this backend and machine without running it.

        Raises:
            SandboxSpecError: a mount source is missing, a path is forbidden, the command is unknown.
            LimitNotEnforceableError: a limit or option the backend cannot enforce was requested.
            BackendUnavailableError: the backend cannot run on this machine.
        """

    @abc.abstractmethod
    def run(self, spec: SandboxSpec, *, sandbox_id: str | None = None) -> SandboxResult:
        """Run ``spec`` to completion. A misbehaving command is a result (reason), not an exception.

        Raises:
            SandboxSpecError / LimitNotEnforceableError / BackendUnavailableError: as ``check``.
            SandboxError: the backend itself failed (not the command).
        """
