"""GRPO (Shao et al. 2024, DeepSeekMath): group-relative advantages, clipped ratio, no value network.

trl's ``GRPOTrainer`` generates its own completions and scores them with reward functions inside its
loop; here the completions are already generated and already scored by a verifier, and scores must
come only from that verifier, so the objective is written out (it is a dozen lines) on top of
``common.sequence_pg``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sia_sandbox.train.common import Policy, group_indices, sequence_pg
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import NoLearningSignalError, StepMetrics, TrainSample

STD_EPS = 1e-4


def group_advantages(rewards: Sequence[float], groups: Sequence[str]) -> list[float]:
    """A_i = (r_i - mean_g) / (std_g + eps) within each group g (population std, as in the paper)."""
    by: dict[str, list[float]] = {}
    for r, g in zip(rewards, groups, strict=True):
        by.setdefault(g, []).append(r)
    stats = {}
    for g, rs in by.items():
        m = sum(rs) / len(rs)
        stats[g] = (m, math.sqrt(sum((r - m) ** 2 for r in rs) / len(rs)))
    return [(r - stats[g][0]) / (stats[g][1] + STD_EPS) for r, g in zip(rewards, groups, strict=True)]


@register_algorithm("grpo")
class GRPO(Algorithm):
    """Group Relative Policy Optimization with PPO clipping and an optional k3 KL-to-base term."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        adv = group_advantages([s.reward for s in samples], [s.group_id for s in samples])
        keep = [i for i, a in enumerate(adv) if abs(a) > 0.0]
        if not keep:
            raise NoLearningSignalError(
                "grpo: every group has equal rewards, so every group-relative advantage is 0",
                hint="use groups where attempts differ, or algo='ppo' / 'bon_bc'",
            )
        n_groups = len(group_indices(samples))
        return sequence_pg(
            policy, [samples[i] for i in keep], [adv[i] for i in keep], clip=True,
            extra={"groups": float(n_groups)},
        )
