"""Agent registry: ``@register_agent("offline")``; plugins come in through ``sia_sandbox.agents`` entry points.

SDK imports stay lazy: the ``claude`` module imports ``anthropic`` only when an agent is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sia_sandbox.agents.base import Agent
from sia_sandbox.registry import Registry

AGENTS: Registry[Agent] = Registry("agent", "sia_sandbox.agents", {
    "offline": "sia_sandbox.agents.offline", "claude": "sia_sandbox.agents.claude",
})
A = TypeVar("A", bound=type[Agent])


def register_agent(name: str) -> Callable[[A], A]:
    """Class decorator that makes an agent available under ``name``."""
    return AGENTS.register(name)


def available_agents() -> list[str]:
    """Names of the built-in and registered agents."""
    return AGENTS.names()


def get_agent(name: str, **kwargs: Any) -> Agent:
    """Build the agent registered as ``name``.

    Raises:
        ConfigError: no agent has that name (the message lists them), or its SDK is missing.
    """
    return AGENTS.get(name)(**kwargs)
