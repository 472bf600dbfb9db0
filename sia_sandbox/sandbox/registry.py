"""Backend registry: ``@register_backend("name")``; plugins come in through the ``sia_sandbox`` entry points."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from sia_sandbox.errors import ConfigError
from sia_sandbox.sandbox.base import SandboxBackend

_BACKENDS: dict[str, type[SandboxBackend]] = {}
_BUILTIN_MODULES = ("sia_sandbox.sandbox.local", "sia_sandbox.sandbox.docker", "sia_sandbox.sandbox.modal")
_loaded = False

B = TypeVar("B", bound=type[SandboxBackend])


def register_backend(name: str) -> Callable[[B], B]:
    """Class decorator that makes a backend available under ``name``."""

    def deco(cls: B) -> B:
        cls.name = name
        _BACKENDS[name] = cls
        return cls

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            # A built-in backend whose module is not written yet, or whose SDK is missing, is simply
            # not registered; `sia doctor` reports it.
            if e.name and not e.name.startswith("sia_sandbox"):
                continue
            if e.name == mod:
                continue
            raise
    for ep in entry_points(group="sia_sandbox.backends"):
        ep.load()


def available_backends() -> list[str]:
    """Names of every registered backend (usable here or not)."""
    _load_all()
    return sorted(_BACKENDS)


def get_backend(name: str) -> SandboxBackend:
    """Instantiate the backend registered as ``name``.

    Raises:
        ConfigError: no backend has that name; the message lists the known ones.
    """
    _load_all()
    try:
        cls = _BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sandbox backend {name!r}",
            hint=f"choose one of: {', '.join(sorted(_BACKENDS)) or '(none registered)'}",
        ) from None
    return cls()
