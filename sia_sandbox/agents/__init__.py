"""Meta-Agent and Feedback-Agent implementations, dispatched through ``agents.registry``."""

from __future__ import annotations

from sia_sandbox.agents.base import Agent, AgentCallError
from sia_sandbox.agents.registry import available_agents, get_agent, register_agent
from sia_sandbox.agents.types import Candidate, FeedbackAction, TraceView

__all__ = [
    "Agent", "AgentCallError", "Candidate", "FeedbackAction", "TraceView", "available_agents", "get_agent",
    "register_agent",
]
