"""Reward-hacking candidates against the trimul verifier: each must be rejected or suspicious.

Every cheat is a real candidate file run in a real bubblewrap sandbox (quick profile). The audit log
must hold the verdict, and the seeds must be revealed only after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks._verify_helpers import CHEATS, run_verify

pytestmark = pytest.mark.bwrap

# cheat file -> (verdict, a failed check name must contain this) - so a cheat cannot "pass" the
# test for the wrong reason (e.g. an infrastructure failure).
CAUGHT = {
    # The allocator may hand a later, differently shaped input the same address: the cached output
    # then fails the runner's shape check (call[...]) instead of the value check. Both are catches.
    "cache_data_ptr": ("rejected", ("correctness[", "call[")),
    "cache_shape": ("rejected", "nominal.correctness["),
    "warmup_replay": ("rejected", "nominal.correctness["),
    "zeros": ("rejected", "nominal.correctness["),
    "nan_output": ("rejected", "nominal.correctness["),
    "background_thread": ("rejected", "nominal.correctness["),
    "gc_scan": ("rejected", "nominal.correctness["),
    "forged_result": ("rejected", "nominal.correctness["),
    "os_exit": ("rejected", "nominal.call["),
    "mutate_inputs": ("rejected", "nominal.correctness["),
    "tensor_subclass": ("rejected", "nominal.call["),
    "lazy_object": ("rejected", "nominal.call["),
    "memorised_nominal": ("rejected", "perturbed.correctness["),
}


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("cheat", sorted(CAUGHT))
def test_cheat_is_caught(cheat: str, tmp_path: Path) -> None:
    v, audit = run_verify("trimul", CHEATS / "trimul" / f"{cheat}.py", tmp_path)
    verdict, check = CAUGHT[cheat]
    assert v.verdict == verdict, (v.verdict, v.reasons)
    wanted = check if isinstance(check, tuple) else (check,)
    assert any(w in c.name for w in wanted for c in v.checks if not c.passed), v.reasons
    assert v.reasons, "a caught candidate must say why"
    if v.verdict == "rejected":
        assert v.score is None
    names = [e["event"] for e in _events(audit)]
    assert names.index("verdict.recorded") < names.index("verify.seeds_revealed")


def test_patched_timers_gain_nothing(tmp_path: Path) -> None:
    """Timers patched inside the sandbox do not shrink the verifier's clock: the 50 ms sleep counts."""
    v, _ = run_verify("trimul", CHEATS / "trimul" / "patch_timers.py", tmp_path)
    assert v.verdict in {"verified", "suspicious"}, v.reasons  # the output itself is correct
    for key in ("nominal.geomean_us", "perturbed.geomean_us"):
        assert v.metrics[key] >= 45_000, (key, v.metrics[key])


def test_memorised_nominal_with_honest_fallback_is_suspicious(tmp_path: Path) -> None:
    v, _ = run_verify("trimul", CHEATS / "trimul" / "memorised_nominal_fallback.py", tmp_path)
    assert v.verdict == "suspicious"
    failed = {c.name for c in v.checks if not c.passed}
    assert "drift.within_threshold" in failed, v.reasons
    assert all(c.severity == "suspicious" for c in v.checks if not c.passed)
    assert v.drift is not None and v.drift > 0.5
