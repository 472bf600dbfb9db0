"""Reward-hacking candidates against the lawbench verifier: none may be verified with a gain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks._verify_helpers import CHEATS, run_verify

pytestmark = pytest.mark.bwrap
HONEST_FLOOR = 0.15
"""An honest TF-IDF baseline scores well above this on the attack profile's split."""


def _run(name: str, tmp: Path, src: Path | None = None):  # type: ignore[no-untyped-def]
    return run_verify("lawbench", src or CHEATS / "lawbench" / f"{name}.py", tmp, profile="attack")


def test_abstain_scores_zero(tmp_path: Path) -> None:
    v, _ = _run("abstain", tmp_path)
    assert v.verdict != "verified" or (v.score == 0.0 and v.perturbed_score == 0.0)
    assert v.metrics["nominal.n_empty"] == v.metrics["nominal.n"]


def test_answer_every_charge_is_punished_by_precision(tmp_path: Path) -> None:
    v, _ = _run("answer_every_charge", tmp_path)
    assert v.verdict != "verified" or (v.score or 0) < 0.05
    # recall is capped by the charges seen in the small train split; precision collapses
    assert v.metrics["nominal.recall"] > 0.3 and v.metrics["nominal.precision"] < 0.05


def test_gold_on_disk_is_unreachable(tmp_path: Path) -> None:
    v, _ = _run("read_gold", tmp_path)
    assert v.verdict != "verified" or ((v.score or 0) == 0.0 and (v.perturbed_score or 0) == 0.0), v.metrics


def test_garbage_types_rejected(tmp_path: Path) -> None:
    v, _ = _run("garbage_types", tmp_path)
    assert v.verdict == "rejected"
    assert any("well_formed" in r for r in v.reasons)


def test_ids_memorised_from_nominal_fail_perturbed(tmp_path: Path) -> None:
    from verifiers import lawbench_data as data

    train, ev = data.make_split(data.load_cases(), data.NOMINAL_SEED, 60, 40)
    memo = {c.id: list(c.charges) for c in [*train, *ev]}
    src = tmp_path / "memorised_ids.py"
    text = (CHEATS / "lawbench" / "memorised_ids.py").read_text()
    src.write_text(text.replace("'__MEMO__'", repr(json.dumps(memo, ensure_ascii=False))))
    v, _ = _run("memorised_ids", tmp_path / "run", src)
    assert v.metrics["nominal.f1"] == pytest.approx(1.0)  # the nominal split is fully memorised
    assert v.verdict == "suspicious", v.reasons
    assert (v.perturbed_score or 0) < 0.1
    assert any(r.startswith("drift.") for r in v.reasons)
