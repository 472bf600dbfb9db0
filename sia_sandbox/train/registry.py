"""Algorithm registry: ``@register_algorithm("grpo")``; plugins come in through entry points."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sia_sandbox.errors import ConfigError

if TYPE_CHECKING:
    from sia_sandbox.train.common import Policy
    from sia_sandbox.train.config import TrainConfig
    from sia_sandbox.train.types import StepMetrics, TrainSample

_BUILTIN_MODULES = (
    "sia_sandbox.train.ppo",
    "sia_sandbox.train.grpo",
    "sia_sandbox.train.entropic",
    "sia_sandbox.train.reinforce_kl",
    "sia_sandbox.train.dpo",
    "sia_sandbox.train.bon_bc",
)
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


_ALGORITHMS: dict[str, type[Algorithm]] = {}
_loaded = False
A = TypeVar("A", bound=type[Algorithm])


def register_algorithm(name: str) -> Callable[[A], A]:
    """Class decorator that makes an algorithm available under ``name``."""

    def deco(cls: A) -> A:
        cls.name = name
        _ALGORITHMS[name] = cls
        return cls

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def available_algorithms() -> list[str]:
    """Names of every registered algorithm."""
    _load_all()
    return sorted(_ALGORITHMS)


def get_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as ``name``.

    Raises:
        ConfigError: no algorithm has that name; the message lists the known ones.
    """
    _load_all()
    try:
        cls = _ALGORITHMS[name]
    except KeyError:
        raise ConfigError(
            f"unknown training algorithm {name!r}",
            hint=f"choose one of: {', '.join(sorted(_ALGORITHMS))}",
        ) from None
    return cls()
