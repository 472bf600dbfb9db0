"""LawBench 3-3 metric: set F1 per case, abstention = wrong, LawBench's own text scorer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from verifiers.lawbench_metric import (
    CHARGES,
    extract_charges_lawbench,
    lawbench_text_score,
    score_by_id,
    score_predictions,
)

DATA = Path(os.environ.get("SIA_LAWBENCH_DIR", "/work/shared/data/lawbench"))
needs_data = pytest.mark.skipif(not (DATA / "3-3.json").is_file(), reason="LawBench data not available")


def test_exact_match_scores_one() -> None:
    r = score_predictions([["盗窃"], ["诈骗", "盗窃"]], [["盗窃"], ["盗窃", "诈骗"]])
    assert r.f1 == pytest.approx(1.0) and r.precision == 1.0 and r.recall == 1.0 and r.n_empty == 0


def test_partial_multi_charge_f1() -> None:
    # pred {A}, gold {A, B}: p=1, r=0.5, f1=2/3
    r = score_predictions([["盗窃"]], [["盗窃", "诈骗"]])
    assert r.f1 == pytest.approx(2 / 3) and r.precision == 1.0 and r.recall == 0.5


def test_abstention_and_garbage_count_as_wrong() -> None:
    preds: list[object] = [[], None, "盗窃", [1, 2], ["  "], ["盗窃"]]
    r = score_predictions(preds, [["盗窃"]] * 6)
    assert r.n_empty == 5
    assert r.f1 == pytest.approx(1 / 6)
    assert r.per_case_f1 == (0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


def test_spraying_all_charges_is_penalised() -> None:
    r = score_predictions([list(CHARGES)], [["盗窃"]])
    assert r.recall == 1.0 and r.f1 < 0.02


def test_trailing_zui_and_duplicates_normalised() -> None:
    r = score_predictions([["盗窃罪", "盗窃", " 盗窃 "]], [["盗窃"]])
    assert r.f1 == pytest.approx(1.0)


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        score_predictions([["盗窃"]], [["盗窃"], ["诈骗"]])


def test_score_by_id_missing_and_extra_ids() -> None:
    r = score_by_id({"a": ["盗窃"], "zzz": ["诈骗"]}, {"a": ["盗窃"], "b": ["诈骗"]})
    assert r.n == 2 and r.n_empty == 1 and r.f1 == pytest.approx(0.5)


def test_text_extraction_keeps_lawbench_substring_quirk() -> None:
    found = extract_charges_lawbench("[罪名]盗窃、抢夺枪支、弹药、爆炸物罪<eoa>")
    assert "盗窃" in found and "盗窃、抢夺枪支、弹药、爆炸物" in found


def test_text_score_hand_computed() -> None:
    r = lawbench_text_score(["[罪名]盗窃<eoa>", "无法判断", "[罪名]诈骗;盗窃<eoa>"],
                            ["罪名:盗窃", "罪名:诈骗", "罪名:诈骗"])
    assert r.f1 == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert r.abstention_rate == pytest.approx(1 / 3)


def test_text_score_rejects_bad_answer() -> None:
    with pytest.raises(ValueError):
        lawbench_text_score(["x"], ["盗窃"])


@needs_data
def test_charges_match_lawbench_list() -> None:
    assert list(CHARGES) == json.loads((DATA / "charges.json").read_text(encoding="utf-8"))
    assert len(CHARGES) == 189


@needs_data
def test_gpt4_zero_shot_reproduces_lawbench() -> None:
    preds = json.loads((DATA / "predictions_gpt4_zero_shot.json").read_text(encoding="utf-8"))
    texts = [preds[str(i)]["prediction"] for i in range(len(preds))]
    answers = [preds[str(i)]["refr"] for i in range(len(preds))]
    r = lawbench_text_score(texts, answers)
    # LawBench publishes 41.99 for GPT-4 zero-shot on 3-3.
    assert r.n == 500
    assert round(100 * r.f1, 2) == 41.99
    assert r.abstention_rate == pytest.approx(0.25)
