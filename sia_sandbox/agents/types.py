"""Typed values that cross the agents boundary: candidates, feedback actions and what agents may see.

A Feedback-Agent reads a ``TraceView``: the scaffold it wrote, the manifest of what the scaffold left in
``/out``, how its sandbox ended and the verdict's public part (status, nominal and perturbed scores,
drift, checks, reasons). It never sees gold data, expected outputs, secret seeds or evidence paths:
an agent learns *that* and *why* a candidate failed, never how to produce a passing verdict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Lever = Literal["harness", "weights"]
"""What the Feedback-Agent changes next: the scaffold (weights held) or the task model (harness held)."""

VerdictLabel = Literal["verified", "rejected", "suspicious"]

ChoiceSource = Literal["harness", "model", "fallback"]
"""Where a scaffold's value for one dimension came from: fixed by the harness, picked by the task model
through the gateway, or the harness default after the model's answer did not parse."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Harness(_Frozen):
    """The declared part of a scaffold: a value per search-space dimension, and which the model picks."""

    choices: dict[str, Any] = Field(default_factory=dict)
    """Dimension name -> value (one of the dimension's declared options)."""
    delegate: list[str] = Field(default_factory=list)
    """Dimensions whose value the scaffold asks the task model for (``choices`` is then the fallback)."""


class Candidate(_Frozen):
    """One scaffold proposed by the Meta-Agent for one generation."""

    schema_version: int = SCHEMA_VERSION
    candidate_id: str
    """Deterministic id ``g<gen>-c<k>``, so a resumed generation reuses it (no duplicates)."""
    gen_index: int = Field(ge=0)
    """The generation that produced it."""
    scaffold_files: dict[str, str]
    """Relative path -> content of every scaffold file; ``main.py`` is the program the sandbox runs."""
    harness: Harness
    """The declared choices the scaffold was rendered from (what the offline bandit learns over)."""
    parent_id: str | None = None
    """The candidate this one edits (usually the best verified so far); None for the first."""
    notes: str = ""
    """What the agent changed and why (one paragraph)."""


class FeedbackAction(_Frozen):
    """The Feedback-Agent's decision after reading one candidate's trace."""

    schema_version: int = SCHEMA_VERSION
    lever: Lever
    """``harness``: rewrite the scaffold next; ``weights``: train the task model on verified rollouts."""
    algorithm: str | None = None
    """Training algorithm the agent asks for (``lever == "weights"``); None = the reward-shape rule."""
    reason: str
    """Why this lever (recorded in ``action.json`` and the audit log)."""
    improvement_md: str
    """The improvement note written to ``improvement.md``."""


class ModelChoice(_Frozen):
    """How one dimension's value was decided inside the scaffold sandbox."""

    dimension: str
    value: Any
    source: ChoiceSource
    completion: str = ""
    """The model's raw answer (truncated) when it was asked."""


class SandboxSummary(_Frozen):
    """How the scaffold's sandbox ended (no full streams: a tail only)."""

    reason: str
    exit_code: int | None
    wall_s: float
    stderr_tail: str = ""
    """Last lines of stderr (at most ~2 KB)."""


class VerdictView(_Frozen):
    """The part of a verdict an agent may read."""

    verdict: VerdictLabel
    score: float | None
    perturbed_score: float | None
    drift: float | None
    direction: Literal["maximize", "minimize"] = "maximize"
    checks: list[dict[str, Any]] = Field(default_factory=list)
    """``{name, passed, detail, severity}`` of each check."""
    reasons: list[str] = Field(default_factory=list)
    suspicious: bool = False
    """True when the verifier or the drift tracker flagged the candidate as likely gaming."""


class TraceView(_Frozen):
    """Everything the Feedback-Agent sees about one candidate. Never gold data or verifier internals."""

    task: str
    gen_index: int
    candidate_id: str
    scaffold: dict[str, str]
    """The scaffold's files (truncated to a size an LLM prompt can hold)."""
    harness: Harness
    outputs: list[str] = Field(default_factory=list)
    """Manifest of ``/out``: ``path (kind, size)``, one per entry."""
    sandbox: SandboxSummary | None = None
    """None when the scaffold never ran (agent error)."""
    model_choices: list[ModelChoice] = Field(default_factory=list)
    verdict: VerdictView | None = None
    """None when no verdict exists (the scaffold produced no artifact and no verification ran)."""


class HistoryEntry(_Frozen):
    """One finished candidate of the run, as agents may use it to plan the next one."""

    gen_index: int
    candidate_id: str
    harness: Harness
    effective_choices: dict[str, Any] = Field(default_factory=dict)
    """Values the scaffold actually used (model picks included); empty = ``harness.choices``."""
    verdict: VerdictLabel | None
    """None when the generation had no verdict (agent error)."""
    score: float | None = None
    perturbed_score: float | None = None
    lever_after: Lever | None = None
    """The lever chosen after this candidate (None until feedback ran)."""
    agent_error: bool = False
    """The agent call failed for this generation (never scored as a task failure)."""

    @property
    def used(self) -> dict[str, Any]:
        """The values the candidate ran with."""
        return {**self.harness.choices, **self.effective_choices}


class ProposalContext(_Frozen):
    """What the Meta-Agent gets to write the next candidate."""

    task: str
    task_doc: str
    """``task.md``."""
    gen_index: int
    candidate_index: int = 0
    """Index of the candidate inside the generation (``candidates_per_gen`` > 1)."""
    direction: Literal["maximize", "minimize"] = "maximize"
    history: list[HistoryEntry] = Field(default_factory=list)
    best: HistoryEntry | None = None
    """Best verified candidate so far."""
    last_trace: TraceView | None = None
    """Trace of the previous candidate (what the last feedback read)."""
    last_improvement: str = ""
    """The previous generation's ``improvement.md``."""
    hold_harness: bool = False
    """The previous action was a weight update: re-run the best harness unchanged."""
    seed: int = 0
