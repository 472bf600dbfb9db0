"""Entropic advantage weighting: weights proportional to exp(beta * r), leave-one-out normalised.

For a group with rewards r_1..r_n, sample i gets w_i = exp(beta r_i) / mean_{j != i} exp(beta r_j) and
the advantage A_i = w_i - 1. The exponential tilts the gradient of the entropic objective
(1/beta) log E[exp(beta r)] towards the rare high-reward attempts, and the leave-one-out normaliser keeps
a sample from normalising itself (an unbiased baseline, as in RLOO). When most attempts fail and a few
score high, a mean baseline would spread their signal over the failures; this concentrates it.

With ``entropic_beta="adaptive"`` beta is chosen per group by bisection so that the softmax weights
q = softmax(beta r) sit at KL(q || uniform) = ln 2, i.e. they keep about half of the group's mass
spread (an effective sample size of about n/2). If the group cannot reach ln 2 (too few distinct
rewards, e.g. n = 2) beta is capped at ``BETA_RANGE_MAX / (max r - min r)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sia_sandbox.train.common import Policy, group_indices, sequence_pg
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import NoLearningSignalError, StepMetrics, TrainSample

TARGET_KL = math.log(2.0)
BETA_RANGE_MAX = 50.0
"""Largest beta * (max r - min r) the bisection tries (exp(50) still fits in a float64 ratio)."""
_BISECT_ITERS = 80


def _tilted(rewards: Sequence[float], beta: float) -> list[float]:
    top = max(rewards)
    # Subtracting the max cancels in every ratio below and keeps exp() from overflowing.
    return [math.exp(beta * (r - top)) for r in rewards]


def kl_to_uniform(rewards: Sequence[float], beta: float) -> float:
    """KL(softmax(beta r) || uniform) = sum_i q_i ln(n q_i)."""
    e = _tilted(rewards, beta)
    z = sum(e)
    n = len(rewards)
    return sum((x / z) * math.log(n * x / z) for x in e if x > 0.0)


def adaptive_beta(rewards: Sequence[float], target: float = TARGET_KL) -> float:
    """Beta with KL(softmax(beta r) || uniform) = ``target``, by bisection (the KL grows with beta).

    Returns 0 when all rewards are equal, and the cap when the target is out of reach.
    """
    spread = max(rewards) - min(rewards)
    if spread <= 0.0:
        return 0.0
    lo, hi = 0.0, BETA_RANGE_MAX / spread
    if kl_to_uniform(rewards, hi) <= target:
        return hi
    for _ in range(_BISECT_ITERS):
        mid = 0.5 * (lo + hi)
        if kl_to_uniform(rewards, mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def loo_weights(rewards: Sequence[float], beta: float) -> list[float]:
    """w_i = exp(beta r_i) / ((1/(n-1)) sum_{j != i} exp(beta r_j)); needs n >= 2."""
    n = len(rewards)
    if n < 2:
        raise ValueError("leave-one-out weights need at least two rewards in a group")
    e = _tilted(rewards, beta)
    total = sum(e)
    return [x / ((total - x) / (n - 1)) for x in e]


def entropic_advantages(rewards: Sequence[float], beta: float) -> list[float]:
    """A_i = w_i - 1 with the leave-one-out weights."""
    return [w - 1.0 for w in loo_weights(rewards, beta)]


@register_algorithm("entropic")
class Entropic(Algorithm):
    """Clipped policy gradient with entropic leave-one-out advantages per group."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        adv = [0.0] * len(samples)
        betas = []
        for idx in group_indices(samples).values():
            rewards = [samples[i].reward for i in idx]
            if len(idx) < 2 or max(rewards) == min(rewards):
                continue
            beta = adaptive_beta(rewards) if config.entropic_beta == "adaptive" else float(config.entropic_beta)
            betas.append(beta)
            for i, a in zip(idx, entropic_advantages(rewards, beta), strict=True):
                adv[i] = a
        keep = [i for i, a in enumerate(adv) if a != 0.0]
        if not keep:
            raise NoLearningSignalError(
                "entropic: no group has two or more completions with different rewards",
                hint="sample several completions per prompt (group_size >= 2), or use algo='ppo'",
            )
        return sequence_pg(
            policy, [samples[i] for i in keep], [adv[i] for i in keep], clip=True,
            extra={"beta_mean": sum(betas) / len(betas)},
        )
