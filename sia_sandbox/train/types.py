"""Typed values that cross the boundary of the weight updater."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.errors import TrainingError

SCHEMA_VERSION = 1


class NoLearningSignalError(TrainingError):
    """The verified rollouts carry no contrast to learn from (e.g. every reward is 0)."""


class TrainSample(BaseModel):
    """One verified rollout, reduced to what a training step needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout_id: str
    """Id of the rollout in the rollout store (kept so an adapter names its training data)."""
    group_id: str
    """Completions of the same prompt share a group; group-relative algorithms compare within it."""
    prompt: str
    """Text the model was conditioned on."""
    completion: str
    """Text the model produced."""
    reward: float
    """The verifier's reward for this rollout (never recomputed from scaffold output)."""
    verdict_sha256: str
    """Hash of the verdict that made this rollout trainable; binds the sample to the verdict."""
    completion_token_ids: tuple[int, ...] | None = None
    """Token ids the model produced, when the gateway recorded them; preferred over re-tokenising."""


class StepMetrics(BaseModel):
    """What one optimizer step measured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    """0-based optimizer step."""
    loss: float
    """Total loss that was back-propagated."""
    n_tokens: int
    """Completion tokens that carried gradient in this step."""
    values: dict[str, float] = Field(default_factory=dict)
    """Algorithm-specific numbers (kl, clip_frac, beta, value_loss, ...)."""


class AlgoChoice(BaseModel):
    """Which algorithm trains, and why: the rule's pick is kept even when it is overridden."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algo: str
    """The algorithm that will run."""
    rule_algo: str
    """The algorithm the reward-shape rule picked."""
    reason: str
    """Why: the rule's reasoning, plus the override's reason when there is one."""
    overridden: bool
    """Whether ``algo`` differs from the rule because someone (Feedback-Agent, CLI) chose it."""


class TrainResult(BaseModel):
    """Outcome of one weight update; also what the loop writes to the audit log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    adapter_version: int
    """Version number of the adapter this update wrote (``adapters/<NNNN>/``)."""
    adapter_dir: Path
    """Directory of that adapter."""
    parent_version: int | None
    """Adapter the update started from; None = fresh LoRA on the base model."""
    base_model: str
    """Model name or path the adapter applies to."""
    algo: str
    """Algorithm that ran."""
    algo_reason: str
    """Why that algorithm (see ``AlgoChoice.reason``)."""
    rule_algo: str
    """Algorithm the reward-shape rule picked (equals ``algo`` unless overridden)."""
    metrics: list[StepMetrics]
    """One entry per optimizer step."""
    n_samples: int
    """Verified rollouts that were given to the update."""
    rollout_ids: list[str]
    """Ids of those rollouts, sorted."""
    verdict_hashes: list[str]
    """Verdict hashes of those rollouts, in ``rollout_ids`` order."""
    created_at: datetime
    """When the adapter was saved (UTC)."""
