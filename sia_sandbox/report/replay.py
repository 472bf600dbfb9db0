"""``sia replay RUN``: recompute every verdict from what the run directory holds and list differences.

A verdict is a function of the candidate file, the task and the seeds (revealed in the audit log by
``verify.seeds_revealed`` after each verdict). Replay re-runs each recorded candidate in generation
order with those seeds and a fresh drift history, so cross-generation drift rules see the same past.
Timing-based scores (kernel tasks) are noisy, so they are compared with a relative tolerance; other
scores must match to 1e-9.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.audit import verify_chain
from sia_sandbox.errors import AuditIntegrityError, ConfigError
from sia_sandbox.layout import RunLayout
from sia_sandbox.report.collect import iter_events_prefix


class ReplayRow(BaseModel):
    """One candidate's recorded and recomputed verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gen_index: int
    candidate_id: str
    recorded: str
    replayed: str | None
    recorded_score: float | None
    replayed_score: float | None
    matches: bool
    note: str = ""


class ReplayReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    rows: list[ReplayRow] = Field(default_factory=list)

    @property
    def differing(self) -> list[ReplayRow]:
        return [r for r in self.rows if not r.matches]


def _seeds_by_candidate(log_path: Path) -> dict[str, dict[str, int]]:
    chain = verify_chain(log_path)
    if not chain.ok:
        raise AuditIntegrityError(
            f"audit log {log_path} is broken at line {chain.first_bad_line}; its seeds cannot be trusted",
            hint=f"inspect it with `sia audit {log_path.parent}`",
        )
    seeds: dict[str, dict[str, int]] = {}
    for ev in iter_events_prefix(log_path, chain.n_events):
        if ev.event == "verify.seeds_revealed":
            seeds[str(ev.data.get("candidate_id"))] = dict(ev.data.get("seeds") or {})
    return seeds


def _scores_match(a: float | None, b: float | None, rel_tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel_tol * max(abs(a), abs(b), 1e-12)


def replay_run(run_dir: Path, *, backend: str | None = None, kernel_rel_tol: float = 0.5) -> ReplayReport:
    """Re-verify every candidate that has a ``verdict.json``.

    Raises:
        ConfigError: not a run directory, or its task is unknown.
        AuditIntegrityError: the audit log (source of the seeds) does not verify.
    """
    from sia_sandbox.tasks import load_task
    from sia_sandbox.verify.api import verify_submission
    from sia_sandbox.verify.drift import DriftStore

    layout = RunLayout(Path(run_dir).absolute())
    if not layout.audit_log.is_file():
        raise ConfigError(f"{layout.root} has no audit log", hint="pass runs/<run_id> as written by `sia run`")
    seeds = _seeds_by_candidate(layout.audit_log)
    meta = json.loads(layout.run_json.read_text()) if layout.run_json.exists() else {}
    rows: list[ReplayRow] = []
    with tempfile.TemporaryDirectory(prefix="sia-replay-") as tmp:
        drift = DriftStore(Path(tmp) / "drift.jsonl")
        for gen, cand in layout.candidates():
            if not cand.verdict.exists():
                continue
            recorded = json.loads(cand.verdict.read_text())
            task_name = str(recorded.get("task") or meta.get("task"))
            task = load_task(task_name)
            tol = kernel_rel_tol if task.spec.interface.kind == "kernel" else 1e-9
            cid = cand.root.name
            submission = cand.verify_dir / "candidate" / task.spec.interface.file
            if not submission.exists():
                submission = cand.output / task.spec.interface.file
            base = dict(gen_index=gen, candidate_id=cid, recorded=str(recorded.get("verdict")),
                        recorded_score=recorded.get("score"))
            if cid not in seeds or not submission.exists():
                why = "no revealed seeds in the audit log" if cid not in seeds else f"no candidate file at {submission}"
                rows.append(ReplayRow(**base, replayed=None, replayed_score=None, matches=False, note=why))
                continue
            # Same seeds, same profile (shapes, repeats, sizes) as the recorded verification.
            v = verify_submission(task_name, submission, device=str(recorded.get("device", "cpu")).split(":")[0],
                                  backend=backend or meta.get("backend"), candidate_id=cid,
                                  out_dir=Path(tmp) / f"{gen:04d}-{cid}", seeds=seeds[cid], drift_store=drift,
                                  profile=str(recorded.get("profile") or "full"))
            same = v.verdict == base["recorded"] and _scores_match(base["recorded_score"], v.score, tol)
            rows.append(ReplayRow(**base, replayed=v.verdict, replayed_score=v.score, matches=same,
                                  note="" if same else "; ".join(v.reasons)[:300]))
    return ReplayReport(run_id=layout.run_id, rows=rows)
