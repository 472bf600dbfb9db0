"""What ``sia train`` calls: one function per subcommand; cli.py only parses arguments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import structlog

from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.types import TrainResult

log = structlog.get_logger(__name__)


def train_run(
    run_dir: Path, algo: str = "auto", *, key: bytes | None = None, algo_reason: str | None = None,
    base_model: str = "tiny", steps: int | None = None, device: str = "cpu",
) -> TrainResult:
    """Train the next adapter of a run from its verified rollouts (``sia train --run RUN --algo A``).

    Reads ``<run_dir>/rollouts.db`` through ``RolloutStore.verified_rollouts`` (signed verdicts only),
    writes ``<run_dir>/adapters/<NNNN>/`` and records an ``adapter.trained`` audit event naming every
    rollout and verdict hash that trained it.

    Args:
        run_dir: the run directory.
        algo: ``auto`` or an algorithm name.
        key: verdict signing key; None = ``signing.load_or_create_key()`` (``$SIA_HOME/keys/verdict.key``).
        algo_reason: why ``algo`` overrides the rule (recorded).
        base_model: model name or directory the adapters apply to.
        steps: optimizer steps; None = the TrainConfig default.
        device: torch device.

    Raises:
        TrainingError: no verified rollouts, or a rollout fails the re-check.
        ConfigError: bad algorithm, model or configuration.
    """
    from sia_sandbox.audit import AuditLog
    from sia_sandbox.errors import TrainingError
    from sia_sandbox.layout import RunLayout
    from sia_sandbox.rollouts import RolloutStore
    from sia_sandbox.signing import load_or_create_key
    from sia_sandbox.train.update import train_from_rollouts

    layout = RunLayout(Path(run_dir).absolute())
    fields: dict[str, Any] = {"algo": algo, "algo_reason": algo_reason, "base_model": base_model,
                              "device": device}
    if steps is not None:
        fields["steps"] = steps
    config = TrainConfig(**fields)
    with RolloutStore(layout.rollouts_db) as store:
        rollouts = store.verified_rollouts(layout.run_id, key=key if key is not None else load_or_create_key())
    if not rollouts:
        raise TrainingError(
            f"run {layout.run_id} has no verified rollouts in {layout.rollouts_db}",
            hint="only rollouts of candidates with a signed 'verified' verdict train; check `sia report`",
        )
    result = train_from_rollouts(rollouts, config, adapters_dir=layout.adapters)
    with AuditLog(layout.audit_log, layout.run_id) as audit:
        audit.emit(
            "adapter.trained", adapter_version=result.adapter_version, parent_version=result.parent_version,
            algo=result.algo, rule_algo=result.rule_algo, algo_reason=result.algo_reason,
            base_model=result.base_model, rollout_ids=result.rollout_ids, verdict_hashes=result.verdict_hashes,
            final_loss=result.metrics[-1].loss if result.metrics else None,
        )
    return result


def toy(algo: str, steps: int, seed: int, json_out: bool, *,
        reward_kind: Literal["dense", "binary"] = "dense") -> dict[str, Any]:
    """Run the toy task (``sia train toy --algo A --steps N [--json]``) and print the outcome.

    Prints ``{"reward_before": ..., "reward_after": ..., ...}`` as JSON with ``json_out``, else one line.

    Returns:
        The same fields as a dict (``ToyResult.model_dump()``).

    Raises:
        ConfigError: unknown algorithm.
    """
    from sia_sandbox.train.toy import run_toy

    out = run_toy(algo, steps, seed, reward_kind=reward_kind).model_dump(mode="json")
    if json_out:
        print(json.dumps(out, sort_keys=True))
    else:
        print(f"{algo}: reward {out['reward_before']:.3f} -> {out['reward_after']:.3f} "
              f"over {steps} rounds (seed {seed})")
    return out
