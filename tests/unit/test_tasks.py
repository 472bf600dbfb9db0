"""Task loading: every shipped task parses; malformed task.toml files name the field and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_sandbox.errors import TaskError
from sia_sandbox.tasks import list_tasks, load_task

GOOD = """
name = "demo"
description = "a demo"
metric = "reward"
direction = "maximize"
[interface]
kind = "kernel"
entrypoint = "custom_kernel"
[suites]
nominal = "n"
perturbed = "p"
"""


def _write(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True)
    path = root / name / "task.toml"
    path.write_text(text)
    return path


def test_shipped_tasks_load() -> None:
    names = list_tasks()
    assert {"trimul", "lawbench"} <= set(names)
    for name in names:
        task = load_task(name)
        assert task.name == name
        assert task.verifier_file.is_file(), task.verifier_file


def test_good_minimal_task(tmp_path: Path) -> None:
    _write(tmp_path, "demo", GOOD)
    task = load_task("demo", root=tmp_path)
    assert task.spec.limits.timeout_s == 300
    assert task.spec.verifier_name == "demo"
    assert list_tasks(tmp_path) == ["demo"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.replace('direction = "maximize"', 'direction = "upwards"'), "direction"),
        (lambda t: t.replace('kind = "kernel"', 'kind = "oracle"'), "interface.kind"),
        (lambda t: t.replace('metric = "reward"\n', ""), "metric"),
        (lambda t: t + "\n[limits]\ntimeout_s = -3\n", "limits.timeout_s"),
        (lambda t: t + "\ncolour = \"blue\"\n", "suites.colour"),  # appended into [suites]
        (lambda t: t.replace('entrypoint = "custom_kernel"', "entrypoint = 7"), "interface.entrypoint"),
    ],
)
def test_malformed_field_is_named(tmp_path: Path, mutate: object, field: str) -> None:
    path = _write(tmp_path, "demo", mutate(GOOD))  # type: ignore[operator]
    with pytest.raises(TaskError) as e:
        load_task("demo", root=tmp_path)
    msg = str(e.value)
    assert f"field '{field}'" in msg
    assert str(path) in msg


def test_bad_toml_syntax_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo", GOOD + "\nthis is = = not toml\n")
    with pytest.raises(TaskError, match="not valid TOML") as e:
        load_task("demo", root=tmp_path)
    assert str(path) in str(e.value)


def test_name_must_match_directory(tmp_path: Path) -> None:
    _write(tmp_path, "other", GOOD)
    with pytest.raises(TaskError, match="field 'name'"):
        load_task("other", root=tmp_path)


def test_unknown_task_lists_known(tmp_path: Path) -> None:
    _write(tmp_path, "demo", GOOD)
    with pytest.raises(TaskError) as e:
        load_task("nope", root=tmp_path)
    assert "unknown task 'nope'" in str(e.value)
    assert e.value.hint and "demo" in e.value.hint
    with pytest.raises(TaskError):
        load_task("../demo", root=tmp_path)
