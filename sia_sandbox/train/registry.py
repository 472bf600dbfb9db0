"""Algorithm registry: ``@register_algorithm("grpo")``; plugins come in through entry points."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sia_sandbox.registry import Registry

if TYPE_CHECKING:
    from sia_sandbox.train.common import Policy
    from sia_sandbox.train.config import TrainConfig
    from sia_sandbox.train.types import StepMetrics, TrainSample

_BUILTIN_NAMES = ("ppo", "grpo", "entropic", "reinforce_kl", "dpo", "bon_bc")
"""Each lives in ``sia_sandbox/train/<name>.py``."""
ENTRY_POINT_GROUP = "sia_sandbox.algorithms"


class Algorithm(ABC):
    """One training objective. ``train`` runs ``config.steps`` optimizer steps on ``policy``."""

    name: ClassVar[str] = ""

    @abstractmethod
    def train(
        self, policy: Policy, samples: Sequence[TrainSample], config: TrainConfig
    ) -> list[StepMetrics]:
        """Update the LoRA weights of ``policy`` from verified ``samples``.

        Raises:
            NoLearningSignalError: the samples carry no contrast this objective can use.
        """


ALGORITHMS: Registry[Algorithm] = Registry(
    "training algorithm", ENTRY_POINT_GROUP, {name: f"sia_sandbox.train.{name}" for name in _BUILTIN_NAMES})
A = TypeVar("A", bound=type[Algorithm])


def register_algorithm(name: str) -> Callable[[A], A]:
    """Class decorator that makes an algorithm available under ``name``."""
    return ALGORITHMS.register(name)


def available_algorithms() -> list[str]:
    """Names of every built-in and registered algorithm."""
    return ALGORITHMS.names()


def get_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as ``name``.

    Raises:
        ConfigError: no algorithm has that name; the message lists the known ones.
    """
    return ALGORITHMS.get(name)()
