"""Best-of-N behavioural cloning: supervised fine-tuning on the best verified completion per group.

A group whose best reward is no better than the worst reward in the whole batch is skipped (it holds
only failures); when every reward is equal (and positive, see ``choose.py``) every group's best is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from sia_sandbox.train.common import Policy, batch_indices, group_indices, masked_mean
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import NoLearningSignalError, StepMetrics, TrainSample


def best_per_group(samples: Sequence[TrainSample]) -> list[int]:
    """Index of the best completion of each group that beats the batch's worst reward."""
    rewards = [s.reward for s in samples]
    floor = min(rewards) if max(rewards) > min(rewards) else float("-inf")
    out = []
    for idx in group_indices(samples).values():
        best = max(idx, key=lambda i: samples[i].reward)  # ties: first seen
        if samples[best].reward > floor:
            out.append(best)
    return out


@register_algorithm("bon_bc")
class BestOfNBC(Algorithm):
    """Negative log-likelihood of the best completion per group (token mean)."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        keep = best_per_group(samples)
        if not keep:
            raise NoLearningSignalError("bon_bc: no group has a completion better than the worst one")
        chosen = [samples[i] for i in keep]
        metrics = []
        for step, idx in enumerate(batch_indices(len(chosen), config)):
            enc = policy.encode([chosen[i] for i in idx])
            loss = masked_mean(-policy.logprobs(enc), enc.mask)
            values = {"grad_norm": policy.step(loss), "cloned": float(len(chosen))}
            metrics.append(StepMetrics(step=step, loss=float(loss.detach()), n_tokens=enc.n_tokens, values=values))
        return metrics
