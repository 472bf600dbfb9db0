"""The agent interface: a Meta-Agent verb (``propose``) and a Feedback-Agent verb (``feedback``).

An agent sees only ``ProposalContext`` and ``TraceView`` (task doc, search space, its own scaffolds,
public verdict fields). It never gets a path to gold data, the verifier, secret seeds or API keys of
the platform other than its own.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from sia_sandbox.agents.task_space import SearchSpace
from sia_sandbox.agents.types import Candidate, FeedbackAction, HistoryEntry, ProposalContext, TraceView
from sia_sandbox.errors import SiaError


class AgentCallError(SiaError):
    """An agent could not answer (rate limit, overload, network, malformed output after retries).

    Infrastructure, not a task failure: the loop records the generation as ``agent_error`` and never
    turns it into a rejected candidate.
    """


class Agent(abc.ABC):
    """A Meta-Agent plus Feedback-Agent pair for one task's search space."""

    name: ClassVar[str]

    def __init__(self, space: SearchSpace, *, plateau_k: int = 2, seed: int = 0) -> None:
        self.space = space
        self.plateau_k = plateau_k
        self.seed = seed

    @abc.abstractmethod
    def propose(self, ctx: ProposalContext) -> Candidate:
        """Write the next candidate's scaffold.

        Raises:
            AgentCallError: the agent could not produce a candidate (retryable infrastructure failure).
        """

    @abc.abstractmethod
    def feedback(self, trace: TraceView, history: list[HistoryEntry]) -> FeedbackAction:
        """Read one candidate's trace, write the improvement note and choose the next lever.

        Raises:
            AgentCallError: the agent could not answer (retryable infrastructure failure).
        """
