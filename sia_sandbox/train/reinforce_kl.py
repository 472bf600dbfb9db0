"""REINFORCE with a KL-to-base penalty in the reward (Williams 1992; Ziegler et al. 2019).

The shaped reward of a completion is r - kl_coef * sum_t (log pi(y_t) - log pi_base(y_t)), where the
base is the SAME model with the LoRA adapter disabled (``model.disable_adapter()``), so no second copy
of the weights is held. The baseline is the batch mean of the shaped rewards.
"""

from __future__ import annotations

from collections.abc import Sequence

from sia_sandbox.train.common import Policy, chunked, sequence_pg
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import NoLearningSignalError, StepMetrics, TrainSample


def sequence_kl(logp: Sequence[float], ref_logp: Sequence[float]) -> float:
    """Sum over completion tokens of log pi - log pi_base (the k1 estimate of KL on sampled tokens)."""
    return sum(a - b for a, b in zip(logp, ref_logp, strict=True))


def shaped_advantages(rewards: Sequence[float], seq_kls: Sequence[float], kl_coef: float) -> list[float]:
    """(r_i - kl_coef * KL_i) minus the batch mean of the same quantity."""
    shaped = [r - kl_coef * k for r, k in zip(rewards, seq_kls, strict=True)]
    mean = sum(shaped) / len(shaped)
    return [s - mean for s in shaped]


@register_algorithm("reinforce_kl")
class ReinforceKL(Algorithm):
    """REINFORCE, batch-mean baseline, KL to the adapter-disabled base folded into the reward."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        rewards = [s.reward for s in samples]
        if config.kl_coef > 0:
            cur = chunked(policy, samples, policy.old_logprobs)
            ref = chunked(policy, samples, policy.ref_logprobs)
            kls = [float(v) for v in (cur - ref).sum(dim=1)]
        else:
            kls = [0.0] * len(samples)
        adv = shaped_advantages(rewards, kls, config.kl_coef)
        if all(abs(a) < 1e-12 for a in adv):
            raise NoLearningSignalError(
                "reinforce_kl: every shaped reward equals the baseline", hint="collect rewards that differ"
            )
        # The KL is already in the reward; no extra loss term (kl_coef is consumed here).
        cfg = config.model_copy(update={"kl_coef": 0.0})
        policy.config, saved = cfg, policy.config
        try:
            return sequence_pg(policy, samples, adv, clip=False,
                               extra={"seq_kl_mean": sum(kls) / len(kls)})
        finally:
            policy.config = saved
