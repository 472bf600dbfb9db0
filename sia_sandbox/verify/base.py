"""The verifier interface and its registry (``@register_verifier("trimul")``).

A verifier is a function of the candidate file, the task and the seeds only (so ``sia replay`` can
recompute a verdict). It runs each suite in a fresh sandbox through ``verify.harness`` and returns
``SuiteResult``s; ``verify.api`` turns them into a ``Verdict``.
"""

from __future__ import annotations

import abc
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import TaskError
from sia_sandbox.tasks import Task
from sia_sandbox.verify.types import SuiteResult

if TYPE_CHECKING:
    from sia_sandbox.verify.harness import SuiteDirs

SuiteName = Literal["nominal", "perturbed"]


class VerifyContext(BaseModel):
    """Everything one suite run may use."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    task: Task
    candidate: Path
    """The trusted copy of the candidate file (never the agent's original)."""
    work_dir: Path
    """Directory of this verification's evidence (may be private to us)."""
    stage_dir: Path
    """World-traversable temp dir for the host side of sandbox mounts (the sandbox runs under
    another uid, so it cannot reach mounts under a private ``work_dir``); removed afterwards."""
    backend: str
    device: str
    seeds: dict[str, int]
    """All seeds: public nominal ones and the secret perturbed ones."""
    audit: Any = None
    candidate_id: str = ""
    profile: str = "full"
    """``full`` or a profile named under ``[params.profiles.<name>]`` of task.toml."""

    def suite_dirs(self, suite: str, runner: str) -> "SuiteDirs":
        """Fresh sandbox dirs for one suite (under ``stage_dir``), evidence dir under ``work_dir``."""
        from sia_sandbox.verify.harness import SuiteDirs

        (self.work_dir / suite).mkdir(parents=True, exist_ok=True)
        return SuiteDirs.create(self.stage_dir / suite, self.candidate, runner,
                                self.task.spec.interface.file, evidence=self.work_dir / suite)

    def limits(self) -> "Limits":
        """The candidate sandbox's limits: ``[limits]`` of task.toml, with a profile's ``timeout_s``.

        Quick profiles lower the timeout so that a candidate that never returns (an infinite loop in
        the cheat library) costs seconds, not the full task budget.
        """
        from sia_sandbox.sandbox.types import Limits

        lim = self.task.spec.limits
        timeout = float(self.params().get("timeout_s", lim.timeout_s))
        return Limits(timeout_s=timeout, memory_mb=lim.memory_mb, pids=lim.pids, cpus=lim.cpus,
                      output_limit_mb=lim.output_limit_mb)

    def params(self) -> dict[str, Any]:
        """Task params with the chosen profile's overrides applied."""
        base = {k: v for k, v in self.task.spec.params.items() if k != "profiles"}
        if self.profile != "full":
            profiles = self.task.spec.params.get("profiles", {})
            if self.profile not in profiles:
                raise TaskError(f"task {self.task.name!r} has no verifier profile {self.profile!r}",
                                hint=f"known: full, {', '.join(sorted(profiles))}")
            base.update(profiles[self.profile])
        return base


class Verifier(abc.ABC):
    """One task's verifier."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    @abc.abstractmethod
    def draw_seeds(self, task: Task) -> dict[str, int]:
        """Fresh seeds for one verification (public nominal seeds + ``secrets.randbits`` ones)."""

    @abc.abstractmethod
    def run_suite(self, ctx: VerifyContext, suite: SuiteName) -> SuiteResult:
        """Run one suite in a fresh sandbox. Candidate misbehaviour = failed checks, never raises.

        Raises:
            VerifierError / SandboxError: our own infrastructure failed.
        """


_VERIFIERS: dict[str, type[Verifier]] = {}
V = TypeVar("V", bound=type[Verifier])


def register_verifier(name: str) -> Callable[[V], V]:
    """Class decorator that registers a verifier under ``name``."""

    def deco(cls: V) -> V:
        cls.name = name
        _VERIFIERS[name] = cls
        return cls

    return deco


register_task = register_verifier
"""Alias in the style guide's wording (``@register_task("trimul")``)."""


def load_verifier(task: Task) -> Verifier:
    """Import ``verifiers/<name>.py`` of the task (by path, as trusted code) and instantiate it.

    Raises:
        TaskError: the file is missing or does not register the expected name.
    """
    name = task.spec.verifier_name
    if name not in _VERIFIERS:
        path = task.verifier_file
        if not path.is_file():
            raise TaskError(f"task {task.name!r} names verifier {name!r} but {path} does not exist",
                            hint="set 'verifier' in task.toml or add the file")
        root = str(task.project_root)
        if root not in sys.path:
            # verifiers import their trusted helpers (kernels/, verifiers/*_metric.py) from the project.
            sys.path.insert(0, root)
        mod_name = f"verifiers.{name}"
        mod = sys.modules.get(mod_name)
        if mod is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = mod
            spec.loader.exec_module(mod)
    try:
        return _VERIFIERS[name]()
    except KeyError:
        raise TaskError(f"{task.verifier_file} does not register a verifier named {name!r}",
                        hint=f"decorate its class with @register_verifier({name!r})") from None


def available_verifiers() -> list[str]:
    """Names registered so far."""
    return sorted(_VERIFIERS)
