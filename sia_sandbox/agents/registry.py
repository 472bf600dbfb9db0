"""Agent registry: ``@register_agent("offline")``; plugins come in through ``sia_sandbox.agents`` entry points.

SDK imports stay lazy: the ``claude`` module imports ``anthropic`` only when an agent is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from sia_sandbox.agents.base import Agent
from sia_sandbox.errors import ConfigError

_AGENTS: dict[str, type[Agent]] = {}
_BUILTIN: dict[str, str] = {"offline": "sia_sandbox.agents.offline", "claude": "sia_sandbox.agents.claude"}
_plugins_loaded = False

A = TypeVar("A", bound=type[Agent])


def register_agent(name: str) -> Callable[[A], A]:
    """Class decorator that makes an agent available under ``name``."""

    def deco(cls: A) -> A:
        cls.name = name
        _AGENTS[name] = cls
        return cls

    return deco


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in entry_points(group="sia_sandbox.agents"):
            ep.load()


def available_agents() -> list[str]:
    """Names of the built-in and registered agents."""
    _load_plugins()
    return sorted({*_AGENTS, *_BUILTIN})


def get_agent(name: str, **kwargs: Any) -> Agent:
    """Build the agent registered as ``name``.

    Raises:
        ConfigError: no agent has that name (the message lists them), or its SDK is missing.
    """
    if name not in _AGENTS and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _AGENTS:
        _load_plugins()
    try:
        cls = _AGENTS[name]
    except KeyError:
        raise ConfigError(f"unknown agent {name!r}", hint=f"choose one of: {', '.join(available_agents())}") from None
    return cls(**kwargs)
