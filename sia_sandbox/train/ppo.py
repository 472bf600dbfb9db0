"""PPO with GAE (Schulman et al. 2017, 2016) on verified, already generated completions.

trl 1.x has no PPOTrainer, so the value head and the clipping are ours. Per completion token t the
reward is the KL penalty -kl_coef * (log pi_old(y_t) - log pi_base(y_t)) (InstructGPT's shaping, base =
adapter disabled), and the last token also gets the verifier's reward. Values come from a linear head
on the last hidden state (initialised to zero, so the first advantages are the discounted returns);
the head is a per-update critic and is not saved with the adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sia_sandbox.train.common import Policy, batch_indices, chunked, clipped_pg_loss, masked_mean
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.registry import Algorithm, register_algorithm
from sia_sandbox.train.types import StepMetrics, TrainSample


def gae(rewards: Sequence[float], values: Sequence[float], gamma: float, lam: float) -> tuple[list[float], list[float]]:
    """Generalised advantage estimates and returns for one sequence (value after the end = 0).

    delta_t = r_t + gamma V_{t+1} - V_t;  A_t = delta_t + gamma lam A_{t+1};  R_t = A_t + V_t.
    """
    n = len(rewards)
    adv = [0.0] * n
    nxt_v, nxt_a = 0.0, 0.0
    for t in reversed(range(n)):
        delta = rewards[t] + gamma * nxt_v - values[t]
        nxt_a = delta + gamma * lam * nxt_a
        adv[t] = nxt_a
        nxt_v = values[t]
    return adv, [a + v for a, v in zip(adv, values, strict=True)]


def token_rewards(logp_old: Sequence[float], logp_ref: Sequence[float], reward: float, kl_coef: float) -> list[float]:
    """-kl_coef * (log pi_old - log pi_base) per token, plus the verifier's reward on the last token."""
    out = [-kl_coef * (a - b) for a, b in zip(logp_old, logp_ref, strict=True)]
    out[-1] += reward
    return out


def _advantages(policy: Policy, samples: Sequence[TrainSample], head: Any) -> tuple[Any, Any, Any, Any]:
    """Per-token old log-probs, advantages (whitened), returns and completion mask for all samples."""
    import torch

    cfg = policy.config
    old = chunked(policy, samples, policy.old_logprobs)
    ref = chunked(policy, samples, policy.ref_logprobs) if cfg.kl_coef > 0 else old

    def values_of(enc: Any) -> Any:
        with torch.no_grad():
            _, hid = policy.logprobs(enc, hidden=True)
            return head(hid).squeeze(-1) * enc.mask

    vals = chunked(policy, samples, values_of)
    mask = chunked(policy, samples, lambda enc: enc.mask)
    adv = torch.zeros_like(old)
    ret = torch.zeros_like(old)
    for i, s in enumerate(samples):
        pos = mask[i].nonzero().squeeze(-1)
        r = token_rewards(old[i, pos].tolist(), ref[i, pos].tolist(), s.reward, cfg.kl_coef)
        a, rt = gae(r, vals[i, pos].tolist(), cfg.gamma, cfg.gae_lambda)
        adv[i, pos] = torch.tensor(a)
        ret[i, pos] = torch.tensor(rt)
    m = masked_mean(adv, mask)
    std = torch.sqrt(masked_mean((adv - m) ** 2, mask)).clamp(min=1e-6)
    return old, ((adv - m) / std) * mask, ret, mask


@register_algorithm("ppo")
class PPO(Algorithm):
    """Clipped PPO with a value head and GAE; token-level KL-to-base shaping."""

    def train(self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig) -> list[StepMetrics]:
        import torch

        hidden = policy.model.get_input_embeddings().weight.shape[1]
        head = torch.nn.Linear(hidden, 1).to(policy.device)
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
        policy.add_module(head)
        old_all, adv_all, ret_all, _ = _advantages(policy, samples, head)
        metrics = []
        for step, idx in enumerate(batch_indices(len(samples), config)):
            enc = policy.encode([samples[i] for i in idx])
            w = enc.mask.shape[1]
            logp, hid = policy.logprobs(enc, hidden=True)
            values = head(hid).squeeze(-1)
            pl, clip_frac = clipped_pg_loss(logp, old_all[idx][:, :w], adv_all[idx][:, :w], enc.mask,
                                            config.clip_eps)
            vl = 0.5 * masked_mean((values - ret_all[idx][:, :w]) ** 2, enc.mask)
            loss = pl + config.vf_coef * vl
            out = {"policy_loss": float(pl.detach()), "value_loss": float(vl.detach()), "clip_frac": clip_frac,
                   "grad_norm": policy.step(loss)}
            metrics.append(StepMetrics(step=step, loss=float(loss.detach()), n_tokens=enc.n_tokens, values=out))
        return metrics
