"""The TF-IDF baseline is verified on lawbench; gold never enters the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks._verify_helpers import PROJECT_ROOT, run_verify

pytestmark = pytest.mark.bwrap


def test_tfidf_baseline_verified(tmp_path: Path) -> None:
    v, audit = run_verify("lawbench", PROJECT_ROOT / "tasks/lawbench/baselines/tfidf_linear.py", tmp_path,
                          profile="attack")
    assert v.verdict == "verified", v.reasons
    assert v.score is not None and v.score > 0.05
    assert v.metrics["perturbed.n"] == 46  # 40 eval + 6 canaries
    text = audit.read_text()
    assert "verdict.recorded" in text and "verify.seeds_revealed" in text


def test_eval_inputs_carry_no_gold(tmp_path: Path) -> None:
    """What the sandbox would see for eval: ids and facts only."""
    from verifiers import lawbench_data as data

    _, ev = data.make_split(data.load_cases(), 1, 60, 40)
    for case in ev:
        assert set(case.for_candidate()) == {"id", "facts"}
        assert "罪名:" + ";".join(case.charges) not in json.dumps(case.for_candidate(), ensure_ascii=False)
