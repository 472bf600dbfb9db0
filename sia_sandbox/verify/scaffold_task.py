"""``sia new-task``: a task directory and a hardened verifier from a commented template.

The generated verifier runs as created (its honest reference is verified and ``sia verifier check``
passes), so authors start from a safe structure and change the problem, not the defences.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from sia_sandbox.errors import ConfigError

TEMPLATES = Path(__file__).with_name("newtask")
Kind = Literal["function", "kernel", "predict"]


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def new_task(name: str, kind: Kind, *, root: Path, force: bool = False) -> list[Path]:
    """Create ``tasks/<name>/``, ``verifiers/<name>.py`` and ``tests/tasks/test_<name>.py`` under ``root``.

    Raises:
        ConfigError: bad name, unknown interface, or the task exists (without ``force``).
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", name):
        raise ConfigError(f"task name {name!r} is not valid",
                          hint="use lowercase letters, digits and '_' (start with a letter), e.g. my_task")
    if kind not in ("function", "kernel", "predict"):
        raise ConfigError(f"unknown interface {kind!r}", hint="use --interface function, kernel or predict")
    task_dir = root / "tasks" / name
    files = {
        task_dir / "task.toml": TEMPLATES / kind / "task.toml",
        task_dir / "baselines" / "reference.py": TEMPLATES / kind / "reference.py",
        root / "verifiers" / f"{name}.py": TEMPLATES / kind / "verifier.py",
        root / "tests" / "tasks" / f"test_{name}.py": TEMPLATES / "test_task.py",
    }
    clash = [p for p in [task_dir, root / "verifiers" / f"{name}.py"] if p.exists()]
    if clash and not force:
        raise ConfigError(f"task {name!r} already exists ({clash[0]})", hint="pick another name or pass --force")
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("__TASK__", name).replace("__CLASS__", _class_name(name)))
        written.append(path)

    for dest, src in files.items():
        put(dest, src.read_text())
    doc = (TEMPLATES / "common_task.md").read_text().replace("__INTERFACE_DOC__", (TEMPLATES / kind / "interface.md").read_text())
    put(task_dir / "task.md", doc)
    put(task_dir / "public" / "README.md", f"# {name}: public inputs\n\nAnything here may be shown to agents and mounted into scaffolds.\n")
    put(task_dir / "private" / "README.md",
        f"# {name}: private data\n\nGold data for the verifier only. Never mounted into a scaffold or candidate sandbox;\n"
        "the sandbox backends refuse to mount any tasks/*/private path.\n")
    return written
