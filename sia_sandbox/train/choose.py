"""Pick the training algorithm from the shape of the verified rewards.

The rule, in order (the first match wins):

1. Every reward is the same: > 0 -> ``bon_bc`` (everything passed; clone the best of each group);
   otherwise there is nothing to learn (``NoLearningSignalError``).
2. Every group holds exactly two completions with different rewards -> ``dpo`` (the data is a set of
   verified better/worse pairs; DPO uses the order and ignores the reward scale).
3. Groups exist and few attempts score high (at most ``RARE_HIGH`` of the samples reach the upper half
   of the reward range) -> ``entropic``: exp(beta*r) weighting puts the gradient on the rare successes
   instead of averaging them away (the SIA paper's "most attempts fail, rare ones score high" case).
4. Binary rewards with a success rate of at least ``MOSTLY_PASS`` -> ``bon_bc``: nearly everything
   passes, contrast is thin, cloning the best is the stable choice.
5. Binary rewards with groups -> ``grpo`` (group-relative baseline, no value network).
6. Binary rewards without groups -> ``reinforce_kl`` (batch-mean baseline, KL to the base model).
7. Dense rewards -> ``ppo`` with GAE (a value baseline for a graded score; the paper's dense case).

An override (the Feedback-Agent's or the CLI's choice) replaces the pick, and both are recorded.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import TrainingError
from sia_sandbox.train.types import AlgoChoice, NoLearningSignalError, TrainSample

RARE_HIGH = 0.25
"""At most this fraction of samples in the upper half of the reward range counts as 'rare high'."""
MOSTLY_PASS = 0.8
"""Binary success rate from which best-of-N cloning is chosen."""
_EPS = 1e-9


class RewardStats(BaseModel):
    """The numbers the rule reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    """Samples."""
    n_groups: int
    """Groups with at least two samples."""
    pairs_only: bool
    """Every group has exactly two samples."""
    binary: bool
    """Every reward is 0 or 1."""
    mean: float
    """Mean reward."""
    std: float
    """Population standard deviation of the rewards."""
    success_rate: float
    """Fraction of rewards > 0."""
    top_fraction: float
    """Fraction of rewards in the upper half of [min, max] (1.0 when all equal)."""


def reward_stats(samples: Sequence[TrainSample]) -> RewardStats:
    """Summarise the rewards and the group structure of ``samples``."""
    rewards = [s.reward for s in samples]
    n = len(rewards)
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    lo, hi = min(rewards), max(rewards)
    mid = lo + 0.5 * (hi - lo)
    top = 1.0 if hi - lo < _EPS else sum(r >= mid for r in rewards) / n
    sizes = Counter(s.group_id for s in samples).values()
    multi = [k for k in sizes if k >= 2]
    return RewardStats(
        n=n,
        n_groups=len(multi),
        pairs_only=bool(multi) and all(k == 2 for k in sizes),
        binary=all(abs(r) < _EPS or abs(r - 1.0) < _EPS for r in rewards),
        mean=mean,
        std=std,
        success_rate=sum(r > _EPS for r in rewards) / n,
        top_fraction=top,
    )


def _pairs_differ(samples: Sequence[TrainSample]) -> bool:
    by_group: dict[str, list[float]] = {}
    for s in samples:
        by_group.setdefault(s.group_id, []).append(s.reward)
    return all(abs(a - b) > _EPS for a, b in by_group.values())


def rule_choice(samples: Sequence[TrainSample]) -> tuple[str, str]:
    """The rule's algorithm and its reason (see the module docstring).

    Raises:
        TrainingError: no samples.
        NoLearningSignalError: every reward is the same and not positive.
    """
    if not samples:
        raise TrainingError("no verified rollouts to train on", hint="run more generations first")
    st = reward_stats(samples)
    shape = (
        f"{st.n} samples in {st.n_groups} groups, {'binary' if st.binary else 'dense'} rewards, "
        f"mean {st.mean:.3g}, std {st.std:.3g}, success rate {st.success_rate:.2f}, "
        f"top fraction {st.top_fraction:.2f}"
    )
    if st.std < _EPS:
        if st.mean > _EPS:
            return "bon_bc", f"{shape}: every reward is equal and positive -> clone the best (bon_bc)"
        raise NoLearningSignalError(
            f"{shape}: every reward is {st.mean:.3g}; nothing to learn from",
            hint="collect rollouts where at least one attempt scores differently",
        )
    if st.pairs_only and _pairs_differ(samples):
        return "dpo", f"{shape}: every group is a better/worse pair -> dpo"
    if st.n_groups and st.top_fraction <= RARE_HIGH:
        return "entropic", (
            f"{shape}: most attempts fail and rare ones score high (top fraction <= {RARE_HIGH}) "
            "-> entropic advantage weighting"
        )
    if st.binary and st.success_rate >= MOSTLY_PASS:
        return "bon_bc", f"{shape}: nearly all attempts pass (>= {MOSTLY_PASS}) -> best-of-N cloning (bon_bc)"
    if st.binary and st.n_groups:
        return "grpo", f"{shape}: pass/fail rewards in groups -> grpo (group baseline, no value net)"
    if st.binary:
        return "reinforce_kl", f"{shape}: pass/fail rewards without groups -> reinforce_kl"
    return "ppo", f"{shape}: dense score -> ppo with GAE"


def choose_algorithm(
    samples: Sequence[TrainSample], override: str | None = None, override_reason: str | None = None
) -> AlgoChoice:
    """Apply the rule, then the override if one is given; record both.

    Args:
        samples: verified samples.
        override: an algorithm name chosen by the caller, or None / ``"auto"`` to follow the rule.
        override_reason: why the caller chose it.

    Raises:
        TrainingError: no samples.
        NoLearningSignalError: the rule finds nothing to learn and there is no override.
        ConfigError: ``override`` names no registered algorithm.
    """
    from sia_sandbox.train.registry import get_algorithm

    if override in (None, "auto"):
        algo, reason = rule_choice(samples)
        return AlgoChoice(algo=algo, rule_algo=algo, reason=reason, overridden=False)
    get_algorithm(override)  # fail early on a typo, listing the known names
    try:
        rule_algo, rule_reason = rule_choice(samples)
    except NoLearningSignalError as e:
        rule_algo, rule_reason = "none", e.message
    why = override_reason or "no reason given"
    reason = f"override {override!r} ({why}); the rule would pick {rule_algo!r}: {rule_reason}"
    return AlgoChoice(algo=override, rule_algo=rule_algo, reason=reason, overridden=override != rule_algo)
