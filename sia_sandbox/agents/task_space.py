"""A task's declared edit space (``tasks/<task>/search_space.toml``) and how scaffolds are built from it.

A scaffold is the task's ``scaffold_template.py`` (run inside the sandbox as ``/scaffold/main.py``)
plus ``harness.json`` (the declared choices), the stdlib helper ``scaffold_lib.py``, the base
submission the template rewrites, and the prompt the scaffold sends to the task model. The offline
agent only edits ``harness.json``; the Claude agent may also rewrite ``main.py``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sia_sandbox.agents.prompts import prompt_path
from sia_sandbox.agents.types import Harness
from sia_sandbox.errors import TaskError

SEARCH_SPACE_FILE = "search_space.toml"
TEMPLATE_FILE = "scaffold_template.py"
SCAFFOLD_MAIN = "main.py"
SCAFFOLD_HARNESS = "harness.json"
SCAFFOLD_LIB = "scaffold_lib.py"
SCAFFOLD_BASE = "base_submission.py"
SCAFFOLD_PROMPT = "choose_option.md"
_LIB_SOURCE = Path(__file__).parent / "scaffold_lib.py"


class Dimension(BaseModel):
    """One declared edit: a module-level constant of the base submission and its allowed values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The constant's name in the base submission (e.g. ``CHUNK``)."""
    options: list[Any] = Field(min_length=1)
    """Allowed values (TOML arrays become Python tuples when rendered)."""
    description: str = ""
    """What the choice changes (shown to agents and to the task model)."""
    model_choice: bool = False
    """The scaffold asks the task model for this value through the gateway (the weight lever's data)."""
    priority: float = 0.0
    """Expected effect on the score, relative to the other dimensions: among edits the search has not
    tried yet, higher priorities are tried first (and, inside a dimension, earlier options first)."""
    when: dict[str, Any] = Field(default_factory=dict)
    """Where this dimension matters: ``{OTHER = value}`` or ``{OTHER = [values]}``, all must hold. Where
    it does not, the search does not edit it and harnesses differing only in it count as one."""

    def active(self, choices: dict[str, Any]) -> bool:
        """Whether this dimension changes the submission under ``choices`` (its ``when`` holds)."""
        for other, allowed in self.when.items():
            values = allowed if isinstance(allowed, list) else [allowed]
            if choices.get(other) not in values:
                return False
        return True


class SearchSpace(BaseModel):
    """A parsed ``search_space.toml`` plus where its files are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    task: str
    """Task name; must equal the directory."""
    base_submission: str
    """Path of the base submission, relative to the project root (holds every dimension's constant)."""
    summary: str = ""
    """One line describing the task to the task model (kept short: tiny models have 256 positions)."""
    dimensions: list[Dimension] = Field(min_length=1)
    start: dict[str, Any] = Field(default_factory=dict)
    """Choices of the first harness (unset dimensions take their first option)."""
    root: Path = Path(".")
    """``tasks/<task>/`` (set by the loader)."""
    project_root: Path = Path(".")
    """The checkout holding ``tasks/`` and ``kernels/`` (set by the loader)."""

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names repeat: {names}")
        for key, value in self.start.items():
            if key not in names:
                raise ValueError(f"start.{key} names no dimension; dimensions: {names}")
            dim = self.dimension(key)
            if value not in dim.options:
                raise ValueError(f"start.{key} = {value!r} is not one of its options {dim.options}")
        for dim in self.dimensions:
            for other, allowed in dim.when.items():
                if other == dim.name or other not in names:
                    raise ValueError(f"dimension {dim.name}: when.{other} must name another dimension of {names}")
                target = self.dimension(other)
                for value in allowed if isinstance(allowed, list) else [allowed]:
                    if value not in target.options:
                        raise ValueError(f"dimension {dim.name}: when.{other} = {value!r} is not one of "
                                         f"{other}'s options {target.options}")
        return self

    def dimension(self, name: str) -> Dimension:
        """The dimension called ``name``.

        Raises:
            KeyError: no such dimension.
        """
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"no dimension {name!r}; dimensions: {[d.name for d in self.dimensions]}")

    def canonical_key(self, harness: Harness) -> str:
        """Identity of a harness as the submission sees it: inactive dimensions are left out.

        Two harnesses with the same key render equivalent submissions (up to the task model's picks
        for delegated dimensions), so a search that has tried one has tried both.
        """
        active = {d.name: harness.choices.get(d.name) for d in self.dimensions if d.active(harness.choices)}
        return json.dumps({"choices": active, "delegate": sorted(harness.delegate)}, sort_keys=True, default=str)

    def start_harness(self) -> Harness:
        """The first harness: ``start`` values, first options elsewhere, model-choice dims delegated."""
        choices = {d.name: self.start.get(d.name, d.options[0]) for d in self.dimensions}
        return Harness(choices=choices, delegate=[d.name for d in self.dimensions if d.model_choice])

    def validate_harness(self, harness: Harness) -> Harness:
        """Return ``harness`` with every dimension set; unknown names or values are refused.

        Raises:
            ValueError: an unknown dimension, a value outside the options, or a delegated unknown dim.
        """
        choices = dict(self.start_harness().choices)
        for key, value in harness.choices.items():
            dim = self.dimension(key)
            if isinstance(value, list):
                value = [*value]
            if value not in dim.options:
                raise ValueError(f"{key}={value!r} is not one of {dim.options}")
            choices[key] = value
        for key in harness.delegate:
            self.dimension(key)
        return Harness(choices=choices, delegate=list(harness.delegate))

    @property
    def template_path(self) -> Path:
        return self.root / TEMPLATE_FILE

    @property
    def base_path(self) -> Path:
        return self.project_root / self.base_submission

    def scaffold_files(self, harness: Harness, main_py: str | None = None) -> dict[str, str]:
        """Every file of a scaffold for ``harness``; ``main_py`` replaces the template when given.

        Raises:
            TaskError: the template or the base submission is missing.
        """
        for path in (self.template_path, self.base_path):
            if not path.is_file():
                raise TaskError(f"task {self.task}: {path} is missing",
                                hint=f"declare base_submission in {self.root / SEARCH_SPACE_FILE}")
        harness_doc = {
            "task": self.task,
            "summary": self.summary,
            "choices": harness.choices,
            "delegate": harness.delegate,
            "dimensions": [d.model_dump(mode="json") for d in self.dimensions],
        }
        return {
            SCAFFOLD_MAIN: main_py if main_py is not None else self.template_path.read_text(encoding="utf-8"),
            SCAFFOLD_HARNESS: json.dumps(harness_doc, indent=2, sort_keys=True) + "\n",
            SCAFFOLD_LIB: _LIB_SOURCE.read_text(encoding="utf-8"),
            SCAFFOLD_BASE: self.base_path.read_text(encoding="utf-8"),
            SCAFFOLD_PROMPT: prompt_path("scaffold_choose_option").read_text(encoding="utf-8"),
        }


def load_search_space(task_root: Path, project_root: Path) -> SearchSpace:
    """Parse ``<task_root>/search_space.toml``.

    Raises:
        TaskError: the file is missing, not TOML, or invalid (every bad field named).
    """
    path = task_root / SEARCH_SPACE_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise TaskError(f"task {task_root.name} has no {SEARCH_SPACE_FILE}",
                        hint=f"create {path} declaring the edits agents may make") from e
    except tomllib.TOMLDecodeError as e:
        raise TaskError(f"{path} is not valid TOML: {e}") from e
    try:
        return SearchSpace.model_validate({**raw, "root": task_root, "project_root": project_root})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise TaskError(f"{path} is invalid: {problems}", hint="see tasks/trimul/search_space.toml") from e
