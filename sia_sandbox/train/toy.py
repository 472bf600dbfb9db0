"""A synthetic task with a known optimum, for checking that each algorithm learns on the tiny model.

The model is asked for a number; the "verifier" scores the first ``max_new_tokens`` generated tokens:
``dense`` = the fraction that are single-digit tokens, ``binary`` = 1 if any of them is. The optimum is
1.0 for both; the untrained tiny model scores about 4% (dense) because 10 of its 256 tokens are digits.
Every reward travels as a verified rollout through ``samples_from_rollouts`` and
``train_from_rollouts``, exactly as in a run, and each round saves a new adapter version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.signing import sha256_json
from sia_sandbox.train.adapters import current_version, version_dir
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.data import RolloutRecord
from sia_sandbox.train.types import NoLearningSignalError

log = structlog.get_logger(__name__)

TRAIN_PROMPTS = ("Q: pick a number\nA:", "Q: say a digit\nA:", "Q: what is the answer?\nA:",
                 "Q: pick a letter\nA:")
HELDOUT_PROMPTS = ("Q: give a number\nA:", "Q: name a digit\nA:")
EVAL_SAMPLES = 48
"""Completions per held-out prompt when measuring reward before/after."""
TOY_DEFAULTS: dict[str, Any] = {
    "base_model": "tiny", "learning_rate": 3e-2, "steps": 4, "batch_size": 16, "group_size": 8,
    "max_new_tokens": 4, "lora_r": 8, "lora_alpha": 16, "num_threads": 1,
}


class ToyResult(BaseModel):
    """Held-out reward before and after training, and what each round did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algo: str
    reward_kind: Literal["dense", "binary"]
    seed: int
    rounds: int
    reward_before: float
    """Mean held-out reward of the untrained model."""
    reward_after: float
    """Mean held-out reward after the last round's adapter."""
    train_rewards: list[float]
    """Mean reward of each round's training completions (on-policy samples)."""
    skipped_rounds: int
    """Rounds where the samples carried no learning signal (no adapter written)."""
    adapter_versions: int
    """Adapter versions written."""


def digit_token_ids(tokenizer: Any) -> set[int]:
    """Ids of tokens whose text is one decimal digit (the toy's target set)."""
    return {i for t, i in tokenizer.get_vocab().items() if len(t) == 1 and t.isdigit()}


def toy_reward(token_ids: list[int], targets: set[int], k: int, kind: str) -> float:
    """The toy verifier: dense = share of the first k tokens in ``targets``; binary = any of them is."""
    head = token_ids[:k]
    hits = sum(t in targets for t in head)
    return float(hits > 0) if kind == "binary" else hits / k


def _sample(model: Any, tok: Any, prompt: str, n: int, k: int, seed: int) -> list[list[int]]:
    import torch

    enc = tok([prompt] * n, return_tensors="pt")
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            **enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=k, min_new_tokens=k,
            pad_token_id=tok.pad_token_id,
        )
    return [row[enc["input_ids"].shape[1]:].tolist() for row in out]


def _load(adapters_dir: Path) -> tuple[Any, Any]:
    from sia_sandbox.models import load_causal_lm

    v = current_version(adapters_dir)
    return load_causal_lm("tiny", adapter_dir=version_dir(adapters_dir, v) if v else None)


def _evaluate(adapters_dir: Path, kind: str, k: int, seed: int) -> float:
    model, tok = _load(adapters_dir)
    targets = digit_token_ids(tok)
    rewards = [toy_reward(ids, targets, k, kind)
               for j, p in enumerate(HELDOUT_PROMPTS)
               for ids in _sample(model, tok, p, EVAL_SAMPLES, k, seed + 7919 * (j + 1))]
    return sum(rewards) / len(rewards)


def _rollouts(adapters_dir: Path, cfg: TrainConfig, kind: str, rnd: int) -> list[RolloutRecord]:
    model, tok = _load(adapters_dir)
    targets = digit_token_ids(tok)
    out = []
    for j, prompt in enumerate(TRAIN_PROMPTS):
        for g, ids in enumerate(_sample(model, tok, prompt, cfg.group_size, cfg.max_new_tokens,
                                        cfg.seed * 1000 + rnd * 10 + j)):
            rid = f"toy-r{rnd}-p{j}-g{g}"
            reward = toy_reward(ids, targets, cfg.max_new_tokens, kind)
            verdict = {"rollout_id": rid, "status": "verified", "reward": reward, "verifier": "toy"}
            out.append(RolloutRecord(
                rollout_id=rid, run_id="toy", gen_index=rnd, group_id=f"r{rnd}-p{j}", prompt=prompt,
                completion=tok.decode(ids), completion_token_ids=tuple(ids), reward=reward,
                verdict_sha256=sha256_json(verdict), verdict="verified",
            ))
    return out


def run_toy(algo: str, steps: int = 6, seed: int = 0, *, reward_kind: Literal["dense", "binary"] = "dense",
            adapters_dir: Path | None = None, **overrides: Any) -> ToyResult:
    """Train the tiny model on the toy task for ``steps`` rounds (sample, verify, update) with ``algo``.

    Args:
        algo: an algorithm name, or ``"auto"`` to let the reward-shape rule choose each round.
        steps: rounds; each round runs ``TrainConfig.steps`` optimizer steps.
        seed: seeds generation and training.
        reward_kind: ``dense`` or ``binary`` verifier.
        adapters_dir: keep the adapters here (default: a temporary directory).
        overrides: TrainConfig fields that replace the toy defaults.

    Raises:
        ConfigError: unknown algorithm or bad config.
    """
    from sia_sandbox.train.update import train_from_rollouts

    import torch

    cfg = TrainConfig(**{**TOY_DEFAULTS, "algo": algo, "seed": seed, **overrides})
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    with tempfile.TemporaryDirectory(prefix="sia-toy-") as tmp:
        root = Path(adapters_dir) if adapters_dir else Path(tmp)
        before = _evaluate(root, reward_kind, cfg.max_new_tokens, seed)
        train_rewards, skipped, versions = [], 0, 0
        for rnd in range(steps):
            rollouts = _rollouts(root, cfg, reward_kind, rnd)
            train_rewards.append(sum(r.reward or 0.0 for r in rollouts) / len(rollouts))
            try:
                train_from_rollouts(rollouts, cfg.model_copy(update={"seed": seed + rnd}), adapters_dir=root)
                versions += 1
            except NoLearningSignalError as e:
                skipped += 1
                log.info("toy.round_skipped", round=rnd, reason=e.message)
        after = _evaluate(root, reward_kind, cfg.max_new_tokens, seed)
    log.info("toy.finished", algo=algo, before=before, after=after)
    return ToyResult(algo=algo, reward_kind=reward_kind, seed=seed, rounds=steps, reward_before=before,
                     reward_after=after, train_rewards=train_rewards, skipped_rounds=skipped,
                     adapter_versions=versions)
