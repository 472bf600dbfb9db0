"""`sia new-task` templates run as created; `sia verifier check` passes them and catches weakened copies.

Each weakened copy reintroduces one classic verifier bug; the cheat library must find it:
- predict: the eval cases still carry their gold labels ("forgot to strip gold") -> gc_scan gains;
- function: the candidate is imported and called inside the verifier's own process, with the clean
  signals in memory -> gc_scan gains;
- kernel: every timed call reuses the same input -> cache_shape gains (answers from a cache).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sia_sandbox.verify.scaffold_task import new_task

pytestmark = pytest.mark.bwrap


def _local_usable() -> bool:
    try:
        from sia_sandbox.sandbox import get_backend

        return get_backend("local").status().usable
    except Exception:
        return False


if not _local_usable():
    pytest.skip("local bubblewrap backend not usable here", allow_module_level=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIA_TASKS_DIR", str(tmp_path / "tasks"))
    return tmp_path


def _check(name: str, only: list[str], work: Path):  # type: ignore[no-untyped-def]
    from sia_sandbox.verify.toolkit import verifier_check

    return verifier_check(name, only=only, work_dir=work, parallel=2)


def _weaken(root: Path, name: str, old: str, new: str) -> None:
    path = root / "verifiers" / f"{name}.py"
    src = path.read_text()
    assert old in src, f"template changed; update the weakening of {name}"
    # A new registry name, so the weakened module is loaded fresh in this process.
    path.write_text(src.replace(old, new).replace(f'register_verifier("{name}")', f'register_verifier("{name}_weak")'))
    toml = root / "tasks" / name / "task.toml"
    toml.write_text(toml.read_text().replace(f'verifier = "{name}"', f'verifier = "{name}_weak"'))
    (root / "verifiers" / f"{name}_weak.py").write_text(path.read_text())


def test_new_task_refuses_bad_names_and_clobbering(project: Path) -> None:
    from sia_sandbox.errors import ConfigError

    with pytest.raises(ConfigError):
        new_task("Bad Name", "function", root=project)
    new_task("dup_task", "function", root=project)
    with pytest.raises(ConfigError, match="already exists"):
        new_task("dup_task", "function", root=project)
    with pytest.raises(ConfigError, match="interface"):
        new_task("other", "graph", root=project)  # type: ignore[arg-type]


def test_predict_template_green_and_gold_leak_caught(project: Path) -> None:
    new_task("tk_predict", "predict", root=project)
    cheats = ["gc_scan", "constant", "every_label", "memorized_nominal"]
    good = _check("tk_predict", cheats, project / "w1")
    assert good.ok, [(r.name, r.outcome, r.caught_by) for r in good.rows]
    assert all(r.outcome == "verified" for r in good.rows if r.role == "honest")

    _weaken(project, "tk_predict",
            'cases = [{"id": new_id(10**6 + i), "x": [round(v, 6) for v in ex[i]]} for i in range(len(ey))]',
            'cases = [{"id": new_id(10**6 + i), "x": [round(v, 6) for v in ex[i]], "labels": [ey[i]]} '
            'for i in range(len(ey))]')
    bad = _check("tk_predict", ["gc_scan"], project / "w2")
    assert not bad.ok
    assert [r.name for r in bad.failures] == ["gc_scan"] and bad.failures[0].outcome == "GAINED"


def test_function_template_green_and_in_process_import_caught(project: Path) -> None:
    new_task("tk_function", "function", root=project)
    good = _check("tk_function", ["gc_scan", "nan", "mutate_inputs", "forged_result"], project / "w1")
    assert good.ok, [(r.name, r.outcome, r.caught_by) for r in good.rows]

    # The weakened verifier imports the candidate into its own process (where `clean` lives) instead
    # of re-executing it in a sandbox.
    _weaken(project, "tk_function",
            "        result, wall = run_spec(spec, backend=ctx.backend, audit=ctx.audit, evidence_dir=dirs.root)\n",
            "        result, wall = run_spec(spec, backend=ctx.backend, audit=ctx.audit, evidence_dir=dirs.root)\n"
            "        import importlib.util as _u\n"
            "        _s = _u.spec_from_file_location('cand', ctx.candidate)\n"
            "        _m = _u.module_from_spec(_s); _s.loader.exec_module(_m)\n"
            "        np.save(dirs.out / 'estimate.npy', np.asarray(_m.solve(x.copy()), dtype=float))\n")
    bad = _check("tk_function", ["gc_scan"], project / "w2")
    assert [r.name for r in bad.failures] == ["gc_scan"], [(r.name, r.outcome, r.caught_by) for r in bad.rows]


@pytest.mark.slow
def test_kernel_template_green_and_input_reuse_caught(project: Path) -> None:
    new_task("tk_kernel", "kernel", root=project)
    good = _check("tk_kernel", ["cache_shape", "warmup_replay", "nan", "background_completion"], project / "w1")
    assert good.ok, [(r.name, r.outcome, r.caught_by) for r in good.rows]

    _weaken(project, "tk_kernel", "cseed = derive_seed(seed, suite, si, ci)", "cseed = derive_seed(seed, suite, si, 0)")
    bad = _check("tk_kernel", ["cache_shape"], project / "w2")
    assert [r.name for r in bad.failures] == ["cache_shape"], [(r.name, r.outcome, r.caught_by) for r in bad.rows]
