"""``train_from_rollouts``: verified rollouts in, a new adapter version out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from sia_sandbox.errors import ConfigError
from sia_sandbox.train.adapters import current_version, read_meta, save_adapter, version_dir
from sia_sandbox.train.choose import choose_algorithm
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.data import RolloutLike, samples_from_rollouts
from sia_sandbox.train.registry import get_algorithm
from sia_sandbox.train.types import TrainResult

log = structlog.get_logger(__name__)


def train_from_rollouts(
    rollouts: Sequence[RolloutLike], config: TrainConfig, *, adapters_dir: Path
) -> TrainResult:
    """Run one LoRA update on verified rollouts and save it as the next adapter version.

    The update starts from the ``CURRENT`` adapter in ``adapters_dir`` (or a fresh LoRA), picks the
    algorithm from the reward shape unless ``config.algo`` overrides it, and records which rollouts and
    verdicts trained it in the adapter's ``meta.json``.

    Args:
        rollouts: from ``RolloutStore.verified_rollouts(run_id, key=...)``; every one is re-checked.
        config: the update's configuration.
        adapters_dir: the run's ``adapters/`` directory.

    Returns:
        The new adapter's version, directory, algorithm, reason and per-step metrics.

    Raises:
        TrainingError: a rollout is not verified or has no finite reward (nothing is trained).
        NoLearningSignalError: the rewards carry no contrast for the chosen algorithm.
        ConfigError: unknown algorithm or model, or the parent adapter belongs to another base model.
    """
    from sia_sandbox.models import load_causal_lm
    from sia_sandbox.train.common import make_policy

    samples = samples_from_rollouts(rollouts)
    override = None if config.algo == "auto" else config.algo
    choice = choose_algorithm(samples, override, config.algo_reason)
    algorithm = get_algorithm(choice.algo)
    parent = current_version(adapters_dir)
    if parent is not None:
        parent_base = read_meta(adapters_dir, parent).base_model
        if parent_base != config.base_model:
            raise ConfigError(
                f"adapter {parent:04d} in {adapters_dir} was trained on {parent_base!r}, not "
                f"{config.base_model!r}",
                hint="set TrainConfig.base_model to the adapter's base model or use another adapters_dir",
            )
    blog = log.bind(algo=choice.algo, n_samples=len(samples), parent_version=parent)
    blog.info("train.started", reason=choice.reason)
    model, tok = load_causal_lm(config.base_model, device=config.device)
    policy = make_policy(model, tok, config, version_dir(adapters_dir, parent) if parent else None)
    metrics = algorithm.train(policy, samples, config)
    order = sorted(range(len(samples)), key=lambda i: samples[i].rollout_id)
    rollout_ids = [samples[i].rollout_id for i in order]
    hashes = [samples[i].verdict_sha256 for i in order]
    meta = save_adapter(
        policy.model, adapters_dir, algo=choice.algo, base_model=config.base_model, rollout_ids=rollout_ids,
        verdict_hashes=hashes, metrics=metrics, parent_version=parent, algo_reason=choice.reason,
    )
    blog.info("train.finished", version=meta.version, final_loss=metrics[-1].loss if metrics else None)
    return TrainResult(
        adapter_version=meta.version, adapter_dir=version_dir(adapters_dir, meta.version),
        parent_version=parent, base_model=config.base_model, algo=choice.algo, algo_reason=choice.reason,
        rule_algo=choice.rule_algo, metrics=metrics, n_samples=len(samples), rollout_ids=rollout_ids,
        verdict_hashes=hashes, created_at=meta.created_at,
    )
