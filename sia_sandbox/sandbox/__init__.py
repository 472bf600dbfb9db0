"""Sandboxes: typed spec/result and the backends that run them (local bubblewrap, docker, modal)."""

from __future__ import annotations

from sia_sandbox.sandbox.base import BackendStatus, Capabilities, SandboxBackend
from sia_sandbox.sandbox.registry import available_backends, get_backend, register_backend
from sia_sandbox.sandbox.types import (
    GATEWAY_SOCKET_PATH,
    Limits,
    Mount,
    OutputFile,
    Reason,
    SandboxResult,
    SandboxSpec,
)

__all__ = [
    "GATEWAY_SOCKET_PATH",
    "BackendStatus",
    "Capabilities",
    "Limits",
    "Mount",
    "OutputFile",
    "Reason",
    "SandboxBackend",
    "SandboxResult",
    "SandboxSpec",
    "available_backends",
    "get_backend",
    "register_backend",
]
