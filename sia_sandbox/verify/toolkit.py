"""``sia verifier check``: run the cheat library and the honest references through a task's verifier.

A verifier passes when every honest reference is ``verified`` and no cheat is ``verified`` with a
gain over the best honest score. A cheat that is verified *without* a gain (a cache that never hits
because inputs are fresh, a file scan that finds no gold) is reported as ``defeated``: the trick ran
and bought nothing.

Honest references are listed in ``task.toml`` under ``[params.toolkit] honest = [...]`` (paths
relative to the project root); otherwise every ``tasks/<name>/baselines/*.py`` is one. The first one
is embedded in each cheat so cheats can be "honest except for the trick".
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.errors import TaskError
from sia_sandbox.tasks import Task, load_task
from sia_sandbox.verify.cheats.library import RECORDER, cheats_for, render_cheat
from sia_sandbox.verify.types import Verdict

log = structlog.get_logger(__name__)
Outcome = Literal["caught", "defeated", "GAINED", "verified", "REJECTED", "suspicious"]


class CheckRow(BaseModel):
    """One candidate run through the verifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Literal["cheat", "honest"]
    threat: str = ""
    verdict: str
    outcome: Outcome
    caught_by: str = ""
    """The first failed check (or why it counts as defeated)."""
    score: float | None = None
    perturbed_score: float | None = None
    gap: float | None = None
    """Nominal minus perturbed, normalised (the verdict's drift)."""
    nominal_score: float | None = None
    """The nominal score even when the verdict withholds it (rejected candidates)."""


class ToolkitReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    honest_best: float | None
    gain_tolerance: float
    rows: list[CheckRow] = Field(default_factory=list)

    @property
    def failures(self) -> list[CheckRow]:
        return [r for r in self.rows if r.outcome in ("GAINED", "REJECTED")]

    @property
    def ok(self) -> bool:
        return not self.failures


def honest_references(task: Task) -> list[Path]:
    """The task's honest candidates.

    Raises:
        TaskError: none is declared or found.
    """
    toolkit = task.spec.params.get("toolkit", {}) if isinstance(task.spec.params, dict) else {}
    listed = [task.project_root / p for p in toolkit.get("honest", [])]
    found = listed or sorted((task.root / "baselines").glob("*.py"))
    missing = [p for p in found if not p.is_file()]
    if missing or not found:
        raise TaskError(
            f"task {task.name!r} has no honest reference to check its verifier against"
            + (f" (missing: {', '.join(map(str, missing))})" if missing else ""),
            hint="list them in task.toml under [params.toolkit] honest = [...] or add tasks/<name>/baselines/*.py",
        )
    return found


def _gain(score: float | None, best: float | None, direction: str, tol: float) -> bool:
    if score is None or best is None:
        return False
    margin = tol * max(abs(best), 1e-12)
    return score > best + margin if direction == "maximize" else score < best - margin


def _first_failed(v: Verdict) -> str:
    for c in v.checks:
        if not c.passed:
            return f"{c.name}: {c.detail[:160]}"
    return "; ".join(v.reasons)[:200]


def _fingerprints(work: Path) -> list[str]:
    """``SIA-FP`` lines the recorder printed during the nominal suite (from the saved sandbox results)."""
    found: set[str] = set()
    for res in work.rglob("sandbox_result.json"):
        if "nominal" not in str(res.relative_to(work)):
            continue
        found.update(re.findall(r"SIA-FP ([0-9a-f]{32})", res.read_text(errors="replace")))
    return sorted(found)


def verifier_check(
    task_name: str, *, backend: str | None = None, device: str = "cpu", profile: str | None = None,
    parallel: int = 2, only: list[str] | None = None, work_dir: Path | None = None, confirm_runs: int = 2,
) -> ToolkitReport:
    """Run honest references, then every cheat for the task's interface, through its verifier.

    Args:
        profile: verifier profile (``quick`` when the task defines one, else ``full``).
        only: restrict to these cheat names.
        confirm_runs: extra runs of a cheat that seems to gain (and of the honest references) before the
            gain counts; timing noise alone must not fail a verifier.

    Raises:
        TaskError: unknown task or no honest reference.
    """
    from sia_sandbox.verify.api import verify_submission

    task = load_task(task_name)
    kind = task.spec.interface.kind
    toolkit = task.spec.params.get("toolkit", {})
    profiles = task.spec.params.get("profiles", {})
    profile = profile or ("quick" if "quick" in profiles else "full")
    tol = float(toolkit.get("gain_tolerance", 0.05 if kind != "kernel" else 0.3))
    refs = honest_references(task)
    base = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=f"sia-vcheck-{task.name}-"))

    def verify(name: str, path: Path) -> Verdict:
        return verify_submission(task.name, path, device=device, backend=backend, candidate_id=name,
                                 out_dir=base / name, profile=profile)

    honest = [(f"honest:{p.stem}", verify(f"honest-{p.stem}", p)) for p in refs]
    # A suspicious honest reference still has a real score (drift on a small sample); a cheat must not
    # beat it either. Rejected references have none and fail the check below.
    scores = [v.score for _, v in honest if v.verdict != "rejected" and v.score is not None]
    best = (max(scores) if task.spec.direction == "maximize" else min(scores)) if scores else None
    rows = [
        CheckRow(name=n, role="honest", verdict=v.verdict,
                 outcome={"verified": "verified", "suspicious": "suspicious"}.get(v.verdict, "REJECTED"),  # type: ignore[arg-type]
                 caught_by="" if v.verdict == "verified" else _first_failed(v), score=v.score,
                 perturbed_score=v.perturbed_score, gap=v.drift, nominal_score=v.metrics.get("nominal.score", v.score))
        for n, v in honest
    ]
    honest_src = refs[0].read_text()
    label_key = str(toolkit.get("label_key", "labels"))
    cand_dir = base / "cheats"
    cand_dir.mkdir(parents=True, exist_ok=True)
    render: dict[str, Any] = dict(kind=kind, entrypoint=task.spec.interface.entrypoint,
                                  honest_source=honest_src, label_key=label_key)
    selected = [c for c in cheats_for(kind) if not only or c.name in only]
    fps: list[str] = []
    if any(c.needs_fingerprints for c in selected):
        rec = cand_dir / "recorder.py"
        rec.write_text(render_cheat(RECORDER, **render))
        verify("recorder", rec)
        fps = _fingerprints(base / "recorder")

    def run_cheat(cheat: Any) -> CheckRow:
        path = cand_dir / f"{cheat.name}.py"
        path.write_text(render_cheat(cheat.name, fingerprints=fps if cheat.needs_fingerprints else None, **render))
        v = verify(f"cheat-{cheat.name}", path)
        gained = v.verdict == "verified" and _gain(v.score, best, task.spec.direction, tol)
        outcome: Outcome = "GAINED" if gained else ("defeated" if v.verdict == "verified" else "caught")
        why = _first_failed(v) if v.verdict != "verified" else (
            "verified with a gain over the honest reference" if gained else "verified without a gain")
        log.info("cheat.checked", task=task.name, cheat=cheat.name, verdict=v.verdict, outcome=outcome)
        return CheckRow(name=cheat.name, role="cheat", threat=cheat.threat, verdict=v.verdict, outcome=outcome,
                        caught_by=why, score=v.score, perturbed_score=v.perturbed_score, gap=v.drift,
                        nominal_score=v.metrics.get("nominal.score", v.score))

    with ThreadPoolExecutor(max(1, parallel)) as pool:
        cheat_rows = list(pool.map(run_cheat, selected))
    cheat_rows = [_confirm_gain(r, cand_dir / f"{r.name}.py", refs, verify, task.spec.direction, tol, confirm_runs)
                  if r.outcome == "GAINED" else r for r in cheat_rows]
    return ToolkitReport(task=task.name, honest_best=best, gain_tolerance=tol, rows=rows + cheat_rows)


def _confirm_gain(row: CheckRow, cheat: Path, refs: list[Path], verify: Any, direction: str, tol: float,
                  runs: int) -> CheckRow:
    """Re-run a cheat that seemed to gain, and the honest references, ``runs`` more times each.

    Timing scores on a shared CPU move by tens of percent between runs; a gain counts only when the
    cheat's median beats the best honest median. Deterministic scores give the same answer again.
    """
    import statistics

    cheat_scores = [row.score]
    best_honest: float | None = None
    for i in range(runs):
        v = verify(f"confirm-{row.name}-{i}", cheat)
        cheat_scores.append(v.score if v.verdict == "verified" else None)
    for ref in refs:
        scores = [v.score for v in (verify(f"confirm-honest-{ref.stem}-{i}", ref) for i in range(runs + 1))
                  if v.verdict == "verified" and v.score is not None]
        if scores:
            med = statistics.median(scores)
            best_honest = med if best_honest is None else (max(best_honest, med) if direction == "maximize"
                                                            else min(best_honest, med))
    if any(s is None for s in cheat_scores):
        return row.model_copy(update={"outcome": "caught", "caught_by": "not verified again when re-run"})
    med = statistics.median([s for s in cheat_scores if s is not None])
    if _gain(med, best_honest, direction, tol):
        return row.model_copy(update={"caught_by": f"gain confirmed over {runs + 1} runs: median {med:.4g} vs "
                                                   f"honest median {best_honest}"})
    return row.model_copy(update={"outcome": "defeated", "caught_by": f"no gain on re-runs: median {med:.4g} "
                                                                      f"vs honest median {best_honest}"})
