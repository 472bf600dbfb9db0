"""Shared pieces of every algorithm: encoding, log-probs, LoRA setup, optimizer, batching.

Sequences are right-padded; position ``t`` of a ``[B, T-1]`` tensor is the prediction of token ``t+1``,
and ``mask`` marks the completion tokens (the prompt never carries gradient).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sia_sandbox.errors import ConfigError, TrainingError
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.types import TrainSample

log = structlog.get_logger(__name__)


@dataclass
class Encoded:
    """A padded batch of prompt + completion token ids."""

    input_ids: Any
    """``[B, T]`` long tensor."""
    attention_mask: Any
    """``[B, T]`` 1 for real tokens."""
    targets: Any
    """``[B, T-1]`` next-token ids."""
    mask: Any
    """``[B, T-1]`` float, 1 where the target is a completion token."""

    @property
    def n_tokens(self) -> int:
        return int(self.mask.sum().item())


def encode(tokenizer: Any, samples: Sequence[TrainSample], device: str) -> Encoded:
    """Tokenise prompts and completions (recorded completion ids win over re-tokenising).

    Raises:
        TrainingError: a completion encodes to no tokens.
    """
    import torch

    rows: list[tuple[list[int], int]] = []
    for s in samples:
        p = list(tokenizer(s.prompt, add_special_tokens=True)["input_ids"])
        c = list(s.completion_token_ids or tokenizer(s.completion, add_special_tokens=False)["input_ids"])
        if not c:
            raise TrainingError(
                f"rollout {s.rollout_id!r} has an empty completion", hint="drop empty completions upstream"
            )
        rows.append((p + c, len(p)))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids_t = torch.full((len(rows), width), pad, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width - 1), dtype=torch.float32)
    for i, (ids, n_prompt) in enumerate(rows):
        ids_t[i, : len(ids)] = torch.tensor(ids)
        attn[i, : len(ids)] = 1
        mask[i, n_prompt - 1 : len(ids) - 1] = 1.0
    ids_t, attn, mask = ids_t.to(device), attn.to(device), mask.to(device)
    return Encoded(input_ids=ids_t, attention_mask=attn, targets=ids_t[:, 1:], mask=mask)


def gather_logprobs(logits: Any, targets: Any) -> Any:
    """log softmax(logits)[targets] without materialising the full log-softmax twice."""
    import torch

    return torch.gather(logits.float().log_softmax(-1), -1, targets.unsqueeze(-1)).squeeze(-1)


def masked_mean(x: Any, mask: Any) -> Any:
    """Mean of ``x`` over positions where ``mask`` is 1 (token-level mean across the batch)."""
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def setup_lora(model: Any, config: TrainConfig, parent_adapter_dir: Path | None = None) -> Any:
    """Wrap ``model`` with a trainable LoRA adapter: the parent's weights, or a fresh one.

    Raises:
        ConfigError: none of ``config.target_modules`` exists in the model.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    if parent_adapter_dir is not None:
        return PeftModel.from_pretrained(model, str(parent_adapter_dir), is_trainable=True)
    leaf_names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [m for m in config.target_modules if m in leaf_names]
    if not targets:
        raise ConfigError(
            f"none of target_modules={list(config.target_modules)} exists in the model",
            hint="set TrainConfig.target_modules to linear layer names of this architecture",
        )
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


class Policy:
    """A peft model with its tokenizer and optimizer; the base model is the same weights, adapter off."""

    def __init__(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.device = config.device
        self._params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self._params, lr=config.learning_rate, weight_decay=0.0)

    def add_module(self, module: Any, lr: float | None = None) -> None:
        """Train ``module``'s parameters too (PPO's value head)."""
        params = list(module.parameters())
        self._params.extend(params)
        self.optimizer.add_param_group({"params": params, "lr": lr or self.config.learning_rate})

    def encode(self, samples: Sequence[TrainSample]) -> Encoded:
        return encode(self.tokenizer, samples, self.device)

    def logprobs(self, enc: Encoded, *, hidden: bool = False) -> Any:
        """``[B, T-1]`` log-probs of the targets (masked to 0 outside completions); with gradient.

        With ``hidden=True`` returns ``(logprobs, last_hidden[B, T-1, H])``.
        """
        out = self.model(
            input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_hidden_states=hidden
        )
        lp = gather_logprobs(out.logits[:, :-1], enc.targets) * enc.mask
        if hidden:
            return lp, out.hidden_states[-1][:, :-1]
        return lp

    def ref_logprobs(self, enc: Encoded) -> Any:
        """Log-probs under the base model: the SAME model with the adapter disabled (no second copy)."""
        import torch

        with torch.no_grad(), self.model.disable_adapter():
            return self.logprobs(enc).detach()

    def old_logprobs(self, enc: Encoded) -> Any:
        """Log-probs under the current policy, detached (the 'old' policy of a clipped ratio)."""
        import torch

        with torch.no_grad():
            return self.logprobs(enc).detach()

    def step(self, loss: Any) -> float:
        """Backward, clip, step; returns the pre-clip gradient norm."""
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self._params, self.config.max_grad_norm)
        self.optimizer.step()
        return float(norm)


def make_policy(model: Any, tokenizer: Any, config: TrainConfig, parent_adapter_dir: Path | None) -> Policy:
    """Seed torch, add LoRA and build the optimizer."""
    import torch

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    peft_model = setup_lora(model, config, parent_adapter_dir)
    peft_model.to(config.device)
    peft_model.train()
    return Policy(peft_model, tokenizer, config)


def batch_indices(n: int, config: TrainConfig) -> list[list[int]]:
    """Indices of each step's batch: a seeded permutation, cycled, ``batch_size`` per step."""
    rng = random.Random(config.seed)
    order: list[int] = []
    batches: list[list[int]] = []
    size = min(config.batch_size, n)
    for _ in range(config.steps):
        if len(order) < size:
            perm = list(range(n))
            rng.shuffle(perm)
            order.extend(perm)
        batches.append(order[:size])
        del order[:size]
    return batches


def chunked(policy: Policy, samples: Sequence[TrainSample], fn: Any) -> Any:
    """Apply ``fn(enc)`` over ``samples`` in chunks of ``batch_size`` and concatenate rows (padding to
    the longest chunk)."""
    import torch

    outs = []
    size = policy.config.batch_size
    for i in range(0, len(samples), size):
        outs.append(fn(policy.encode(samples[i : i + size])))
    width = max(o.shape[1] for o in outs)
    return torch.cat([torch.nn.functional.pad(o, (0, width - o.shape[1])) for o in outs], dim=0)


def clipped_pg_loss(logp: Any, old_logp: Any, adv: Any, mask: Any, clip_eps: float) -> tuple[Any, float]:
    """PPO's clipped surrogate (Schulman et al. 2017), token-mean; returns (loss, clip fraction).

    ``adv`` is per token ``[B, T-1]`` (broadcast a per-sequence advantage with ``adv[:, None]``).
    """
    import torch

    ratio = torch.exp(logp - old_logp)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    loss = masked_mean(-torch.minimum(unclipped, clipped), mask)
    clip_frac = float(masked_mean(((ratio - 1.0).abs() > clip_eps).float(), mask))
    return loss, clip_frac


def k3_kl(logp: Any, ref_logp: Any) -> Any:
    """Per-token KL(pi || ref) estimate exp(ref - logp) - (ref - logp) - 1 (Schulman's k3; >= 0)."""
    import torch

    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def sequence_pg(
    policy: Policy, samples: Sequence[TrainSample], advantages: Sequence[float], *, clip: bool,
    extra: dict[str, float] | None = None,
) -> list[Any]:
    """Policy-gradient steps with one advantage per sequence (GRPO, entropic, REINFORCE+KL).

    With ``clip`` the loss is PPO's clipped ratio against the policy at the start of the update;
    without, plain REINFORCE ``-A * log pi``. ``config.kl_coef`` adds a k3 KL-to-base term.
    """
    import torch

    from sia_sandbox.train.types import StepMetrics

    cfg = policy.config
    adv_all = torch.tensor(list(advantages), dtype=torch.float32, device=policy.device)
    old_all = chunked(policy, samples, policy.old_logprobs) if clip else None
    metrics = []
    for step, idx in enumerate(batch_indices(len(samples), cfg)):
        batch = [samples[i] for i in idx]
        enc = policy.encode(batch)
        logp = policy.logprobs(enc)
        adv = adv_all[idx][:, None].expand_as(logp)
        values: dict[str, float] = dict(extra or {})
        if clip:
            old = old_all[idx][:, : logp.shape[1]]
            loss, values["clip_frac"] = clipped_pg_loss(logp, old, adv, enc.mask, cfg.clip_eps)
        else:
            loss = masked_mean(-adv * logp, enc.mask)
        if cfg.kl_coef > 0:
            kl = masked_mean(k3_kl(logp, policy.ref_logprobs(enc)), enc.mask)
            loss = loss + cfg.kl_coef * kl
            values["kl"] = float(kl.detach())
        values["grad_norm"] = policy.step(loss)
        values["adv_mean"] = float(adv_all[idx].mean())
        metrics.append(StepMetrics(step=step, loss=float(loss.detach()), n_tokens=enc.n_tokens, values=values))
    return metrics


def group_indices(samples: Sequence[TrainSample]) -> dict[str, list[int]]:
    """Sample indices per group id, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.group_id, []).append(i)
    return groups
