"""A cheat's apparent gain counts only when it survives re-runs (timing noise must not fail a verifier)."""

from __future__ import annotations

from pathlib import Path

from sia_sandbox.verify.toolkit import CheckRow, _confirm_gain
from sia_sandbox.verify.types import Verdict


def _verdict(score: float | None, status: str = "verified") -> Verdict:
    return Verdict(task="t", verifier="t", verifier_version="1", candidate_id="c", verdict=status,  # type: ignore[arg-type]
                   score=score, perturbed_score=score, drift=0.0, seeds_commitment="x", device="cpu")


def _row(score: float) -> CheckRow:
    return CheckRow(name="timer_patch", role="cheat", verdict="verified", outcome="GAINED", score=score)


def _scripted(cheat_scores: list[float | None], honest_scores: list[float]):  # type: ignore[no-untyped-def]
    cheat, honest = iter(cheat_scores), iter(honest_scores)

    def verify(name: str, path: Path) -> Verdict:
        s = next(cheat) if name.startswith("confirm-timer") else next(honest)
        return _verdict(s) if s is not None else _verdict(None, "rejected")

    return verify


def test_noise_spike_is_not_a_gain() -> None:
    verify = _scripted([0.30, 0.31], [0.33, 0.32, 0.34])
    row = _confirm_gain(_row(0.45), Path("c.py"), [Path("ref.py")], verify, "maximize", 0.3, 2)
    assert row.outcome == "defeated" and "no gain" in row.caught_by


def test_reproducible_gain_stays_gained() -> None:
    verify = _scripted([3.0, 3.1], [0.33, 0.32, 0.34])
    row = _confirm_gain(_row(2.9), Path("c.py"), [Path("ref.py")], verify, "maximize", 0.3, 2)
    assert row.outcome == "GAINED" and "confirmed" in row.caught_by


def test_rejected_on_rerun_counts_as_caught() -> None:
    verify = _scripted([None, 3.0], [0.33, 0.32, 0.34])
    row = _confirm_gain(_row(2.9), Path("c.py"), [Path("ref.py")], verify, "maximize", 0.3, 2)
    assert row.outcome == "caught"
