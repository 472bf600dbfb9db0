"""Backend registry: ``@register_backend("name")``; plugins come in through ``sia_sandbox.backends``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sia_sandbox.registry import Registry
from sia_sandbox.sandbox.base import SandboxBackend

BACKENDS: Registry[SandboxBackend] = Registry("sandbox backend", "sia_sandbox.backends", {
    "local": "sia_sandbox.sandbox.local",
    "docker": "sia_sandbox.sandbox.docker",
    "modal": "sia_sandbox.sandbox.modal",
})
B = TypeVar("B", bound=type[SandboxBackend])


def register_backend(name: str) -> Callable[[B], B]:
    """Class decorator that makes a backend available under ``name``."""
    return BACKENDS.register(name)


def available_backends() -> list[str]:
    """Names of every known backend (usable here or not: ask its ``status()``)."""
    return BACKENDS.names()


def get_backend(name: str) -> SandboxBackend:
    """Instantiate the backend registered as ``name``.

    Raises:
        ConfigError: no backend has that name; the message lists the known ones.
    """
    return BACKENDS.get(name)()
