"""Denoising baselines through the real sandbox: scored by verifiers/denoising_metric.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks._verify_helpers import PROJECT_ROOT, run_verify

pytestmark = pytest.mark.bwrap
BASELINES = PROJECT_ROOT / "tasks" / "denoising" / "baselines"


def test_magic_runs_and_is_scored(tmp_path: Path) -> None:
    v, _ = run_verify("denoising", BASELINES / "magic.py", tmp_path, profile="full")
    assert "nominal.mse" in v.metrics, v.metrics  # it ran in the sandbox and produced a valid-format matrix
    # The verdict follows the metric's Poisson rule (poisson_norm >= 0.97); see the report on
    # verifiers/denoising_metric.py for the baseline/rule mismatch.
    if v.verdict != "verified":
        assert any("poisson_norm" in r for r in v.reasons), v.reasons


def test_identity_gains_nothing(tmp_path: Path) -> None:
    v, _ = run_verify("denoising", BASELINES / "identity.py", tmp_path, profile="full")
    assert v.metrics["nominal.mse_norm"] == 0.0
    assert v.verdict != "verified" or (v.score or 0.0) < 0.01
