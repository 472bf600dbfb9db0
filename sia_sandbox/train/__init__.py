"""LoRA weight updater: trains only on verified rollouts, with six algorithms chosen by reward shape.

The loop calls ``train_from_rollouts``; ``run_toy`` runs a synthetic task with a known optimum on the
tiny model. torch/transformers/peft are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.types import AlgoChoice, StepMetrics, TrainResult, TrainSample
from sia_sandbox.train.update import train_from_rollouts


def run_toy(algo: str, steps: int = 6, seed: int = 0, **kwargs: object) -> object:
    """See ``sia_sandbox.train.toy.run_toy``."""
    from sia_sandbox.train.toy import run_toy as _run_toy

    return _run_toy(algo, steps, seed, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "AlgoChoice", "StepMetrics", "TrainConfig", "TrainResult", "TrainSample", "run_toy", "train_from_rollouts",
]
