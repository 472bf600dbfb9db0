"""``LoopConfig``: every knob of one ``sia run``, resolved and written to ``runs/<run_id>/config.json``."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"


class LoopBudgets(BaseModel):
    """Limits of a run; when one is spent the run stops cleanly after the current generation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_wall_s: float | None = Field(None, gt=0, description="Wall-clock seconds for the whole run; None = no limit.")
    max_tokens: int | None = Field(None, gt=0, description="Task-model tokens (prompt + completion) through the gateway.")
    max_model_calls: int | None = Field(None, gt=0, description="Task-model calls through the gateway.")


class LoopConfig(BaseModel):
    """Configuration of the generation loop.

    Parameters of the run:
        task, max_gen, run_id, candidates_per_gen, seed.
    Parameters of the agents:
        agent (``auto`` = ``claude`` when ANTHROPIC_API_KEY is set, else ``offline``), claude_model,
        plateau_k (offline plateau rule), agent_retries (attempts per agent call before the generation
        is recorded as ``agent_error``).
    Parameters of execution:
        backend (sandbox backend), device (``cpu``/``cuda``, for verification and training),
        verify_profile (``full`` or a lighter task profile such as ``quick``), scaffold_timeout_s.
    Parameters of the task model:
        model (``tiny`` for tests, ``gemma3-270m`` for real runs), model_backend (gateway backend),
        train_steps (optimizer steps per weight update).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    task: str = Field(description="Task name (tasks/<task>/).")
    max_gen: int = Field(6, ge=1, le=10_000, description="Generations to run (a resumed run continues to this count).")
    run_id: str = Field(description="Run identifier; the run directory is <runs_dir>/<run_id>.")
    agent: str = Field("auto", description="Meta/Feedback agent: offline, claude, auto, or a registered plugin name.")
    claude_model: str = Field("claude-sonnet-4-6", description="Anthropic model of the claude agent.")
    backend: str = Field("local", description="Sandbox backend for scaffolds and verification.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="Device for verification and training.")
    model: str = Field("tiny", description="Task model served by the gateway ('tiny', 'gemma3-270m' or a dir).")
    model_backend: str = Field("local", description="Gateway model backend (local, openai-compatible, anthropic).")
    plateau_k: int = Field(2, ge=1, description="Offline plateau rule: generations without progress before a weight update.")
    candidates_per_gen: int = Field(1, ge=1, le=16, description="Candidates proposed per generation.")
    agent_retries: int = Field(3, ge=1, le=10, description="Attempts per agent call before recording agent_error.")
    verify_profile: str = Field(
        "auto", description="Verifier profile: 'full', 'quick', or 'auto' (full on cuda; on cpu the task's 'loop' "
        "profile if it defines one, else 'quick': the full CPU benchmark takes minutes per candidate on 2 cores, "
        "which a 10-minute loop cannot afford).")
    scaffold_timeout_s: float = Field(120.0, gt=0, description="Wall-clock limit of one scaffold sandbox.")
    train_steps: int = Field(4, ge=1, description="Optimizer steps per weight update.")
    seed: int = Field(0, description="Seed of the offline agent's tie-breaks.")
    budgets: LoopBudgets = Field(default_factory=LoopBudgets, description="Run budgets.")

    @field_validator("run_id")
    @classmethod
    def _run_id_ok(cls, v: str) -> str:
        if not v or v.startswith(".") or not all(c.isalnum() or c in "-_." for c in v):
            raise ValueError(f"run_id {v!r} must be letters, digits, '-', '_' or '.' (it names a directory)")
        return v

    @model_validator(mode="after")
    def _check(self) -> LoopConfig:
        if self.agent == "claude" and not os.environ.get(ANTHROPIC_KEY_ENV):
            raise ValueError(f"agent='claude' needs {ANTHROPIC_KEY_ENV} in the environment; set it or use agent='offline'")
        return self

    def resolved(self) -> LoopConfig:
        """This config with every ``auto`` replaced by what is actually used (agent, verify profile)."""
        update: dict[str, str] = {}
        if self.agent == "auto":
            update["agent"] = "claude" if os.environ.get(ANTHROPIC_KEY_ENV) else "offline"
        if self.verify_profile == "auto":
            update["verify_profile"] = "full" if self.device == "cuda" else _cpu_loop_profile(self.task)
        return self.model_copy(update=update) if update else self


def _cpu_loop_profile(task: str) -> str:
    """``loop`` when the task defines that profile (sized to tell variants apart on a CPU), else ``quick``."""
    from sia_sandbox.tasks import load_task

    try:
        profiles = load_task(task).spec.params.get("profiles", {})
    except Exception:  # noqa: BLE001 - an unknown task is reported by the loop itself, with a hint
        return "quick"
    return "loop" if "loop" in profiles else "quick"
