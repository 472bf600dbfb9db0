"""The verified-only data path: rollouts in, ``TrainSample`` out, or a refusal.

``RolloutStore.verified_rollouts`` already returns only rollouts whose verdict is ``verified`` and
whose HMAC verifies. This module checks again (defence in depth: a bug or a bypass upstream must not
turn into training on unverified data) and takes the reward only from the rollout, which holds the
verifier's number; nothing here re-scores scaffold output.

What this does NOT protect against: a rollout whose verdict was signed by a compromised verifier, or
a caller that builds ``TrainSample`` objects directly instead of going through this function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import TrainingError
from sia_sandbox.train.types import TrainSample

PASSING_VERDICT = "verified"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@runtime_checkable
class RolloutLike(Protocol):
    """What the updater reads from a rollout (``sia_sandbox.rollouts.Rollout`` satisfies it)."""

    @property
    def rollout_id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def group_id(self) -> str | None: ...
    @property
    def prompt(self) -> str: ...
    @property
    def completion(self) -> str: ...
    @property
    def completion_token_ids(self) -> Sequence[int] | None: ...
    @property
    def reward(self) -> float | None: ...
    @property
    def verdict_sha256(self) -> str | None: ...
    @property
    def verdict(self) -> str | None: ...


class RolloutRecord(BaseModel):
    """A plain rollout value (the toy task, the Modal transport and tests build these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout_id: str
    """Unique id of the rollout."""
    run_id: str
    """Run that produced it."""
    candidate_id: str = ""
    """Candidate whose scaffold made the model call."""
    gen_index: int = 0
    """Generation of the candidate."""
    group_id: str | None = None
    """Completions of the same prompt share a group id."""
    prompt: str
    """Prompt text."""
    completion: str
    """Completion text."""
    completion_token_ids: tuple[int, ...] | None = None
    """Generated token ids, when recorded."""
    token_logprobs: tuple[float, ...] | None = None
    """Log-probs of the generated tokens under the serving model, when recorded."""
    reward: float | None = None
    """The verifier's reward."""
    verdict_sha256: str | None = None
    """Hash of the verdict bound to this rollout."""
    verdict: str | None = None
    """Verdict status: verified | rejected | suspicious."""


def _refuse(r: RolloutLike, why: str) -> TrainingError:
    return TrainingError(
        f"refusing to train on rollout {getattr(r, 'rollout_id', '?')!r} of run "
        f"{getattr(r, 'run_id', '?')!r}: {why}",
        hint="only rollouts with a signed 'verified' verdict train; read them with "
        "RolloutStore.verified_rollouts(run_id, key=...)",
    )


def samples_from_rollouts(rollouts: Sequence[RolloutLike]) -> list[TrainSample]:
    """Turn verified rollouts into training samples, re-checking each one.

    Args:
        rollouts: rollouts from ``RolloutStore.verified_rollouts`` (or equivalent values).

    Returns:
        One ``TrainSample`` per rollout, in input order. A rollout without a group id forms its own
        group.

    Raises:
        TrainingError: a rollout's verdict is not ``verified``, its verdict hash is missing or
            malformed, its reward is missing or not finite, or a rollout id repeats.
    """
    out: list[TrainSample] = []
    seen: set[str] = set()
    for r in rollouts:
        if getattr(r, "verdict", None) != PASSING_VERDICT:
            raise _refuse(r, f"verdict is {getattr(r, 'verdict', None)!r}, not {PASSING_VERDICT!r}")
        vh = getattr(r, "verdict_sha256", None)
        if not isinstance(vh, str) or not _SHA256_HEX.match(vh):
            raise _refuse(r, f"verdict_sha256 {vh!r} is missing or not a sha256 hex digest")
        reward = getattr(r, "reward", None)
        if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not math.isfinite(reward):
            raise _refuse(r, f"reward {reward!r} is missing or not a finite number")
        if r.rollout_id in seen:
            raise _refuse(r, "the rollout id appears twice in the training data")
        seen.add(r.rollout_id)
        ids = getattr(r, "completion_token_ids", None)
        out.append(
            TrainSample(
                rollout_id=r.rollout_id,
                group_id=r.group_id or f"single:{r.rollout_id}",
                prompt=r.prompt,
                completion=r.completion,
                reward=float(reward),
                verdict_sha256=vh,
                completion_token_ids=tuple(int(i) for i in ids) if ids else None,
            )
        )
    return out
