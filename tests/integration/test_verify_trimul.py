"""Honest trimul candidates are verified in real sandboxes; verdicts replay from revealed seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sia_sandbox.verify.api import seeds_commitment
from tests.attacks._verify_helpers import PROJECT_ROOT, run_verify

pytestmark = pytest.mark.bwrap
SUBMISSIONS = PROJECT_ROOT / "kernels" / "trimul" / "submissions"


@pytest.mark.parametrize("name", ["reference", "cpu_fast"])
def test_honest_submission_is_verified(name: str, tmp_path: Path) -> None:
    v, audit = run_verify("trimul", SUBMISSIONS / f"{name}.py", tmp_path)
    assert v.verdict == "verified", v.reasons
    assert v.score is not None and v.score > 0 and v.perturbed_score is not None
    assert v.metrics["nominal.geomean_us"] > 0
    assert any(k.startswith("nominal.overhead_us[") for k in v.metrics)
    assert (tmp_path / "verify" / "verdict.json").is_file()
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names.index("verify.started") < names.index("verdict.recorded") < names.index("verify.seeds_revealed")
    started = events[names.index("verify.started")]
    revealed = events[names.index("verify.seeds_revealed")]
    assert seeds_commitment(revealed["data"]["seeds"]) == v.seeds_commitment
    assert started["data"]["seeds_commitment"] == v.seeds_commitment
    assert "seeds" not in started["data"]


def test_replay_with_recorded_seeds(tmp_path: Path) -> None:
    """A saved candidate + the revealed seeds reproduce the verdict (correctness is exact)."""
    cheat = PROJECT_ROOT / "tests" / "attacks" / "cheats" / "trimul" / "memorised_nominal.py"
    first, _ = run_verify("trimul", cheat, tmp_path / "a")
    seeds = {"nominal": 20240917, "perturbed": 12345, "salt": 7}
    a, _ = run_verify("trimul", cheat, tmp_path / "b", seeds=seeds)
    b, _ = run_verify("trimul", cheat, tmp_path / "c", seeds=seeds)
    assert first.verdict == a.verdict == b.verdict == "rejected"
    assert a.seeds_commitment == b.seeds_commitment == seeds_commitment(seeds)

    def rejects(v: object) -> list[str]:  # timing-based (suspicious) checks may differ run to run
        return [c.name for c in v.checks if not c.passed and c.severity == "reject"]  # type: ignore[attr-defined]

    assert rejects(a) == rejects(b) and rejects(a)[0].startswith("perturbed.correctness[")
