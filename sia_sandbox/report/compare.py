"""``sia compare RUN_A RUN_B``: scores, drift and cost side by side."""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sia_sandbox.report.collect import RunData, collect_run


class RunStats(BaseModel):
    """The numbers of one run that ``compare`` puts side by side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    task: str
    generations: int
    candidates: int
    verified: int
    suspicious: int
    rejected: int
    best_score: float | None
    best_perturbed: float | None
    mean_drift: float | None
    max_drift: float | None
    weight_updates: int
    sandbox_runs: int
    sandbox_wall_s: float
    sandbox_cpu_s: float
    limit_hits: int
    model_tokens: int | None
    run_wall_s: float | None
    audit_ok: bool | None


def run_stats(run: RunData) -> RunStats:
    verdicts = [c.verdict for c in run.candidates if c.verdict]
    verified = [v for v in verdicts if v.verdict == "verified" and v.score is not None]
    best = max(verified, key=lambda v: v.score) if verified else None  # type: ignore[arg-type,return-value]
    drifts = [v.drift for v in verdicts if v.drift is not None]
    wall = None
    if len(run.events) >= 2:
        wall = (datetime.fromisoformat(run.events[-1].ts) - datetime.fromisoformat(run.events[0].ts)).total_seconds()
    tokens = run.summary.get("tokens")
    return RunStats(
        run_id=run.run_id, task=str(run.meta.get("task", run.summary.get("task", "?"))),
        generations=len({c.gen_index for c in run.candidates}), candidates=len(run.candidates),
        verified=sum(v.verdict == "verified" for v in verdicts),
        suspicious=sum(v.verdict == "suspicious" for v in verdicts),
        rejected=sum(v.verdict == "rejected" for v in verdicts),
        best_score=best.score if best else None, best_perturbed=best.perturbed_score if best else None,
        mean_drift=statistics.fmean(drifts) if drifts else None, max_drift=max(drifts) if drifts else None,
        weight_updates=len(run.training), sandbox_runs=len(run.sandboxes),
        sandbox_wall_s=sum(s.wall_s for s in run.sandboxes), sandbox_cpu_s=sum(s.cpu_s or 0.0 for s in run.sandboxes),
        limit_hits=sum(1 for s in run.sandboxes if s.reason not in ("ok", "nonzero_exit")),
        model_tokens=int(tokens) if isinstance(tokens, (int, float)) else None, run_wall_s=wall,
        audit_ok=run.chain.ok if run.chain else None,
    )


def compare_runs(a: Path, b: Path) -> tuple[RunStats, RunStats]:
    """Stats of two runs.

    Raises:
        ConfigError: either path is not a run directory.
    """
    return run_stats(collect_run(a)), run_stats(collect_run(b))
