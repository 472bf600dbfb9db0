"""Verdict model, verdict assembly rules and the seed commitment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sia_sandbox.tasks import load_task
from sia_sandbox.verify.api import _assemble, seeds_commitment
from sia_sandbox.verify.types import Check, SuiteResult, Verdict


class _V:
    name = "trimul"
    version = "9"


def _verdict(nominal: SuiteResult, perturbed: SuiteResult | None, tmp: Path) -> Verdict:
    suites = [nominal] + ([perturbed] if perturbed else [])
    return _assemble(load_task("trimul"), _V(), "c-1", suites, "0" * 64, "cpu", tmp, None, 1.0)


def test_verdict_is_frozen_and_strict() -> None:
    v = Verdict(task="t", verifier="t", verifier_version="1", candidate_id="c", verdict="verified", score=1.0,
                perturbed_score=1.0, drift=0.0, seeds_commitment="x", device="cpu")
    with pytest.raises(ValidationError):
        Verdict(**{**v.model_dump(), "bogus": 1})
    with pytest.raises(ValidationError):
        Verdict(**{**v.model_dump(), "verdict": "great"})
    with pytest.raises(ValidationError):
        v.score = 2.0  # type: ignore[misc]
    assert Verdict.model_validate_json(v.model_dump_json()) == v


def test_all_passing_is_verified(tmp_path: Path) -> None:
    ok = [Check(name="a", passed=True)]
    v = _verdict(SuiteResult(suite="nominal", score=1.0, checks=ok),
                 SuiteResult(suite="perturbed", score=0.95, checks=ok), tmp_path)
    assert v.verdict == "verified" and v.score == 1.0 and v.perturbed_score == 0.95
    assert v.drift == pytest.approx(0.05)
    assert v.reasons == []


def test_reject_check_rejects_and_hides_score(tmp_path: Path) -> None:
    v = _verdict(SuiteResult(suite="nominal", score=1.0, checks=[Check(name="a", passed=True)]),
                 SuiteResult(suite="perturbed", score=None,
                             checks=[Check(name="perturbed.correctness[x]", passed=False, detail="max_abs_err=3")]),
                 tmp_path)
    assert v.verdict == "rejected"
    assert v.score is None
    assert any("max_abs_err=3" in r for r in v.reasons)
    assert v.metrics["nominal.score"] == 1.0


def test_suspicious_check_and_drift(tmp_path: Path) -> None:
    flagged = _verdict(SuiteResult(suite="nominal", score=1.0,
                                   checks=[Check(name="t", passed=False, severity="suspicious")]),
                       SuiteResult(suite="perturbed", score=1.0), tmp_path)
    assert flagged.verdict == "suspicious"
    drifted = _verdict(SuiteResult(suite="nominal", score=10.0), SuiteResult(suite="perturbed", score=1.0),
                       tmp_path)
    assert drifted.verdict == "suspicious"
    assert drifted.drift == pytest.approx(0.9)
    assert any(r.startswith("drift.within_threshold") for r in drifted.reasons)


def test_seed_commitment_is_canonical() -> None:
    a = seeds_commitment({"nominal": 1, "perturbed": 2, "salt": 3})
    assert a == seeds_commitment({"salt": 3, "perturbed": 2, "nominal": 1})
    assert a != seeds_commitment({"nominal": 1, "perturbed": 2, "salt": 4})
    assert len(a) == 64 and json.dumps(a)
