"""Goodhart drift tracking across generations of one run.

Each verdict appends one line to ``<run_dir>/drift.jsonl``. Two rules mark a candidate suspicious:

1. *Single-candidate drift*: ``drift = (nominal - perturbed) / |nominal|`` (sign flipped for
   ``minimize`` tasks so positive always means "nominal looks better") above the task's threshold.
2. *Cross-generation drift*: its nominal score improves on the best earlier *verified* candidate by
   more than the tolerance while its perturbed score does not (improves by at most the tolerance).
   This is the signature of optimising against the public suite (Goodhart's law).

Not protected against: a candidate that games both suites the same way (perturbed suites with
secret seeds make that hard, not impossible).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from sia_sandbox.verify.types import Check, Verdict

DRIFT_FILE = "drift.jsonl"
Direction = Literal["maximize", "minimize"]


class DriftRecord(BaseModel):
    """One verdict's numbers as the drift store keeps them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    task: str
    candidate_id: str
    verdict: str
    score: float | None
    perturbed_score: float | None
    drift: float | None
    created_at: str


def compute_drift(nominal: float | None, perturbed: float | None, direction: Direction) -> float | None:
    """Relative gap between suites, positive when the nominal suite looks better."""
    if nominal is None or perturbed is None:
        return None
    denom = abs(nominal) if nominal != 0 else 1e-12
    gap = (nominal - perturbed) / denom
    return gap if direction == "maximize" else -gap


def _gain(new: float, old: float, direction: Direction) -> float:
    denom = abs(old) if old != 0 else 1e-12
    g = (new - old) / denom
    return g if direction == "maximize" else -g


class DriftStore:
    """Append-only JSONL of verdict numbers for one run (``<run_dir>/drift.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_run(cls, run_dir: Path) -> "DriftStore":
        return cls(run_dir / DRIFT_FILE)

    def records(self, task: str | None = None) -> list[DriftRecord]:
        """Every readable record (corrupt lines are skipped: the audit log is the record of trust)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rec = DriftRecord.model_validate_json(line)
            except ValidationError:
                continue
            if task is None or rec.task == task:
                out.append(rec)
        return out

    def append(self, verdict: Verdict) -> DriftRecord:
        """Record a verdict (one line, appended with O_APPEND)."""
        rec = DriftRecord(task=verdict.task, candidate_id=verdict.candidate_id, verdict=verdict.verdict,
                          score=verdict.score, perturbed_score=verdict.perturbed_score, drift=verdict.drift,
                          created_at=verdict.created_at)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (rec.model_dump_json() + "\n").encode())
        finally:
            os.close(fd)
        return rec

    def best_verified(self, task: str, direction: Direction) -> DriftRecord | None:
        """The earlier verified record with the best nominal score."""
        cands = [r for r in self.records(task) if r.verdict == "verified" and r.score is not None
                 and r.perturbed_score is not None]
        if not cands:
            return None
        key = (lambda r: r.score) if direction == "maximize" else (lambda r: -(r.score or 0.0))
        return max(cands, key=key)


def drift_checks(nominal: float | None, perturbed: float | None, *, direction: Direction, threshold: float,
                 tolerance: float, best: DriftRecord | None) -> list[Check]:
    """The two drift rules as checks (severity ``suspicious``); empty when a score is missing."""
    d = compute_drift(nominal, perturbed, direction)
    if d is None or nominal is None or perturbed is None:
        return []
    checks = [Check(name="drift.within_threshold", passed=d <= threshold, severity="suspicious",
                    detail=f"drift={d:.4f} threshold={threshold} nominal={nominal:.6g} perturbed={perturbed:.6g}")]
    if best is not None and best.score is not None and best.perturbed_score is not None:
        ng = _gain(nominal, best.score, direction)
        pg = _gain(perturbed, best.perturbed_score, direction)
        gamed = ng > tolerance and pg <= tolerance
        checks.append(Check(
            name="drift.vs_best_verified", passed=not gamed, severity="suspicious",
            detail=(f"vs {best.candidate_id}: nominal {best.score:.6g}->{nominal:.6g} (gain {ng:+.3f}), "
                    f"perturbed {best.perturbed_score:.6g}->{perturbed:.6g} (gain {pg:+.3f}), "
                    f"tolerance {tolerance}")))
    return checks


def summarize(store: DriftStore, task: str) -> list[dict[str, object]]:
    """Per-record drift rows for reports (plain JSON-able rows, order of recording)."""
    return [json.loads(r.model_dump_json()) for r in store.records(task)]
