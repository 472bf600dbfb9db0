"""Goodhart drift: the single-candidate threshold and the cross-generation rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_sandbox.verify.drift import DriftStore, compute_drift, drift_checks
from sia_sandbox.verify.types import Verdict


def _v(cid: str, verdict: str, score: float, pert: float) -> Verdict:
    return Verdict(task="t", verifier="t", verifier_version="1", candidate_id=cid, verdict=verdict,  # type: ignore[arg-type]
                   score=score, perturbed_score=pert, drift=compute_drift(score, pert, "maximize"),
                   seeds_commitment="x", device="cpu")


def test_compute_drift_orientation() -> None:
    assert compute_drift(1.0, 0.5, "maximize") == pytest.approx(0.5)
    assert compute_drift(1.0, 2.0, "minimize") == pytest.approx(1.0)  # minimize: perturbed worse
    assert compute_drift(None, 1.0, "maximize") is None


def test_threshold_rule() -> None:
    (c,) = drift_checks(1.0, 0.9, direction="maximize", threshold=0.25, tolerance=0.05, best=None)
    assert c.passed
    (c,) = drift_checks(1.0, 0.5, direction="maximize", threshold=0.25, tolerance=0.05, best=None)
    assert not c.passed and c.severity == "suspicious" and "drift=0.5000" in c.detail


def test_store_and_cross_generation_rule(tmp_path: Path) -> None:
    store = DriftStore.for_run(tmp_path)
    store.append(_v("c-0", "verified", 0.50, 0.48))
    store.append(_v("c-1", "rejected", 0.99, 0.10))  # never a baseline
    store.append(_v("c-2", "verified", 0.60, 0.57))
    best = store.best_verified("t", "maximize")
    assert best is not None and best.candidate_id == "c-2"
    # nominal +33% while perturbed flat: gamed
    checks = drift_checks(0.80, 0.58, direction="maximize", threshold=1.0, tolerance=0.05, best=best)
    vs = next(c for c in checks if c.name == "drift.vs_best_verified")
    assert not vs.passed and "c-2" in vs.detail
    # both improve: honest progress
    checks = drift_checks(0.80, 0.76, direction="maximize", threshold=1.0, tolerance=0.05, best=best)
    assert all(c.passed for c in checks)
    assert len(store.records("t")) == 3


def test_corrupt_lines_are_skipped(tmp_path: Path) -> None:
    store = DriftStore(tmp_path / "drift.jsonl")
    store.append(_v("c-0", "verified", 1.0, 1.0))
    with open(store.path, "a") as fh:
        fh.write("{not json\n")
    assert [r.candidate_id for r in store.records()] == ["c-0"]
