"""Task definitions: ``tasks/<name>/task.toml`` parsed into a typed ``TaskSpec``.

A task is a problem definition (``task.toml``, ``task.md`` for agents, ``public/`` inputs, ``private/``
gold that is never mounted into a sandbox) plus its verifier in ``verifiers/<verifier>.py``. The
tasks directory is ``$SIA_TASKS_DIR`` when set, else ``tasks/`` of the project checkout.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sia_sandbox.errors import TaskError

TASK_FILE = "task.toml"
"""Name of a task's definition file."""

_PROJECT_ROOT = Path(__file__).resolve().parents[1]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interface(_Frozen):
    """What a candidate must provide."""

    kind: Literal["kernel", "predict", "function"]
    """kernel: a timed function on tensors; predict: fit on labelled data then predict; function: a
    pure function of an input array."""
    entrypoint: str
    """Name of the function the candidate module defines (e.g. ``custom_kernel``)."""
    extra_entrypoints: list[str] = Field(default_factory=list)
    """Other names the candidate may define and the runner may call (e.g. ``fit``)."""
    file: str = "submission.py"
    """Name of the candidate file inside the sandbox."""


class TaskLimits(_Frozen):
    """Limits of one candidate sandbox run (one suite)."""

    timeout_s: float = Field(300.0, gt=0, le=3600)
    """Wall-clock limit of one suite's sandbox run."""
    memory_mb: int = Field(4096, gt=0)
    """Memory limit of the candidate sandbox."""
    pids: int = Field(64, gt=0)
    """Most processes/threads alive in the candidate sandbox."""
    cpus: float = Field(1.0, gt=0)
    """CPU bandwidth in cores."""
    output_limit_mb: float = Field(256.0, gt=0)
    """Most bytes the candidate may write to its output directory."""


class Suites(_Frozen):
    """Which suites run and how they are described to agents."""

    nominal: str
    """Description of the nominal suite (public seeds/splits; the loop may see its score)."""
    perturbed: str
    """Description of the perturbed suite (secret seeds, shifted distributions, fresh splits)."""
    drift_threshold: float = Field(0.25, ge=0)
    """Drift ``(nominal - perturbed)/|nominal|`` above which a candidate is ``suspicious``."""
    drift_tolerance: float = Field(0.05, ge=0)
    """Relative tolerance when comparing perturbed scores across generations (drift tracking)."""


class TaskSpec(_Frozen):
    """A parsed ``task.toml``."""

    name: str
    """Task name; must equal its directory name."""
    description: str
    """One line for ``sia tasks``."""
    verifier: str | None = None
    """Verifier module ``verifiers/<verifier>.py``; None = the task name."""
    interface: Interface
    limits: TaskLimits = Field(default_factory=TaskLimits)
    metric: str
    """Name of the score inside verdicts (e.g. ``reward``, ``f1``, ``mse_norm``)."""
    direction: Literal["maximize", "minimize"]
    """Whether a larger score is better."""
    suites: Suites
    backend: str = "local"
    """Default sandbox backend for verification."""
    image: str | None = None
    """Container image for docker/modal backends (None = the backend default)."""
    gpu: bool = False
    """Whether the task's primary device is a GPU (CPU suites still exist)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Verifier-specific parameters (sizes, repeats, tolerances)."""

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "-_" for c in v):
            raise ValueError("must be letters, digits, '-' or '_'")
        return v

    @property
    def verifier_name(self) -> str:
        """Verifier module name (``verifier`` or the task name)."""
        return self.verifier or self.name


class Task(_Frozen):
    """A task spec plus where its files are."""

    spec: TaskSpec
    root: Path
    """``tasks/<name>/``."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def public_dir(self) -> Path:
        """Inputs agents may see."""
        return self.root / "public"

    @property
    def private_dir(self) -> Path:
        """Gold data; never mounted into a scaffold or candidate sandbox."""
        return self.root / "private"

    @property
    def doc(self) -> Path:
        """``task.md``: what agents see."""
        return self.root / "task.md"

    @property
    def verifier_file(self) -> Path:
        """``verifiers/<verifier>.py`` next to the tasks directory."""
        return self.root.parent.parent / "verifiers" / f"{self.spec.verifier_name}.py"

    @property
    def project_root(self) -> Path:
        """The directory holding ``tasks/``, ``verifiers/`` and ``kernels/``."""
        return self.root.parent.parent


def tasks_dir() -> Path:
    """The tasks directory: ``$SIA_TASKS_DIR`` or ``<project>/tasks``."""
    env = os.environ.get("SIA_TASKS_DIR")
    return Path(env).expanduser().resolve() if env else _PROJECT_ROOT / "tasks"


def list_tasks(root: Path | None = None) -> list[str]:
    """Names of the tasks that have a ``task.toml``, sorted."""
    base = root or tasks_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / TASK_FILE).is_file())


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_task_file(path: Path) -> TaskSpec:
    """Parse and validate one ``task.toml``.

    Raises:
        TaskError: the file is unreadable, not TOML, or a field is missing/invalid; the message names
            the file and every bad field.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TaskError(f"cannot read task file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise TaskError(f"task file {path} is not valid TOML: {e}",
                        hint="fix the syntax at the line named above") from e
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = _field_path(tuple(err["loc"]))
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"field '{field}': {msg}")
        raise TaskError(f"task file {path} is invalid: " + "; ".join(problems),
                        hint="see tasks/trimul/task.toml for a complete example") from e


def load_task(name: str, root: Path | None = None) -> Task:
    """Load ``tasks/<name>/task.toml``.

    Raises:
        TaskError: no such task (the message lists the known ones), the file is malformed, or its
            ``name`` does not match the directory.
    """
    base = root or tasks_dir()
    tdir = base / name
    if not name or "/" in name or name.startswith(".") or not (tdir / TASK_FILE).is_file():
        known = ", ".join(list_tasks(base)) or "(none)"
        raise TaskError(f"unknown task {name!r} (looked in {base})", hint=f"known tasks: {known}")
    spec = parse_task_file(tdir / TASK_FILE)
    if spec.name != name:
        raise TaskError(f"task file {tdir / TASK_FILE} is invalid: field 'name' is {spec.name!r} "
                        f"but the directory is {name!r}", hint="make them equal")
    return Task(spec=spec, root=tdir)
