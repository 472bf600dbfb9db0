"""DPO (Rafailov et al. 2023) on verified better/worse pairs from within a group.

Each group gives pairs (best, other) for every other completion whose verified reward is strictly
lower. The reference policy is the same model with the LoRA adapter disabled. trl's ``DPOTrainer`` is a
full ``Trainer`` with its own data pipeline and output directories; the loss itself is one line, so it
is written here against the shared log-prob code.
"""

from __future__ import annotations

from collections.abc import Sequence

from sia_sandbox.train.common import Policy, batch_indices
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import NoLearningSignalError, StepMetrics, TrainSample

_EPS = 1e-9


def dpo_loss(pi_chosen: object, pi_rejected: object, ref_chosen: object, ref_rejected: object,
             beta: float) -> object:
    """-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) per pair (sequence log-probs in)."""
    import torch.nn.functional as F

    margin = (pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)  # type: ignore[operator]
    return -F.logsigmoid(beta * margin)


def preference_pairs(samples: Sequence[TrainSample]) -> list[tuple[int, int]]:
    """(chosen, rejected) index pairs: the group's best against each strictly worse completion."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.group_id, []).append(i)
    pairs = []
    for idx in groups.values():
        best = max(idx, key=lambda i: samples[i].reward)
        pairs += [(best, j) for j in idx if samples[j].reward < samples[best].reward - _EPS]
    return pairs


@register_algorithm("dpo")
class DPO(Algorithm):
    """Direct Preference Optimization, reference = adapter disabled."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        import torch

        pairs = preference_pairs(samples)
        if not pairs:
            raise NoLearningSignalError(
                "dpo: no group holds two completions with different verified rewards",
                hint="sample several completions per prompt, or use algo='bon_bc'",
            )
        metrics = []
        for step, idx in enumerate(batch_indices(len(pairs), config)):
            chosen = [samples[pairs[k][0]] for k in idx]
            rejected = [samples[pairs[k][1]] for k in idx]
            enc = policy.encode(chosen + rejected)
            n = len(idx)
            pi = policy.logprobs(enc).sum(dim=1)
            ref = policy.ref_logprobs(enc).sum(dim=1)
            losses = dpo_loss(pi[:n], pi[n:], ref[:n], ref[n:], config.dpo_beta)
            loss = losses.mean()  # type: ignore[attr-defined]
            with torch.no_grad():
                margin = ((pi[:n] - ref[:n]) - (pi[n:] - ref[n:])).detach()
            values = {"grad_norm": policy.step(loss), "margin": float(margin.mean()),
                      "accuracy": float((margin > 0).float().mean()), "pairs": float(len(pairs))}
            metrics.append(StepMetrics(step=step, loss=float(loss.detach()), n_tokens=enc.n_tokens, values=values))
        return metrics
