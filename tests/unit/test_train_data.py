"""The verified-only data path refuses anything without a passing verdict."""

from __future__ import annotations

import math

import pytest

from sia_sandbox.errors import TrainingError
from sia_sandbox.train.data import RolloutLike, RolloutRecord, samples_from_rollouts

GOOD_SHA = "ab" * 32


def _r(**kw: object) -> RolloutRecord:
    base: dict[str, object] = dict(rollout_id="r-1", run_id="run-1", group_id="g", prompt="Q", completion="A",
                                   reward=0.5, verdict_sha256=GOOD_SHA, verdict="verified")
    base.update(kw)
    return RolloutRecord(**base)  # type: ignore[arg-type]


def test_verified_rollout_becomes_a_sample() -> None:
    [s] = samples_from_rollouts([_r(completion_token_ids=(5, 6))])
    assert (s.rollout_id, s.group_id, s.reward, s.verdict_sha256) == ("r-1", "g", 0.5, GOOD_SHA)
    assert s.completion_token_ids == (5, 6)
    assert isinstance(_r(), RolloutLike)


def test_missing_group_forms_its_own() -> None:
    [s] = samples_from_rollouts([_r(group_id=None)])
    assert s.group_id == "single:r-1"


@pytest.mark.parametrize("verdict", ["rejected", "suspicious", None, "Verified", "verified "])
def test_non_passing_or_edited_verdict_is_rejected(verdict: str | None) -> None:
    with pytest.raises(TrainingError, match="r-bad"):
        samples_from_rollouts([_r(), _r(rollout_id="r-bad", verdict=verdict)])


@pytest.mark.parametrize("sha", [None, "", "0" * 63, "g" * 64, GOOD_SHA.upper(), GOOD_SHA + "0"])
def test_missing_or_edited_verdict_hash_is_rejected(sha: str | None) -> None:
    with pytest.raises(TrainingError, match="verdict_sha256"):
        samples_from_rollouts([_r(verdict_sha256=sha)])


@pytest.mark.parametrize("reward", [math.nan, math.inf, -math.inf, None])
def test_non_finite_reward_is_rejected(reward: float | None) -> None:
    with pytest.raises(TrainingError, match="reward"):
        samples_from_rollouts([_r(reward=reward)])


def test_duplicate_rollout_is_rejected() -> None:
    with pytest.raises(TrainingError, match="twice"):
        samples_from_rollouts([_r(), _r()])


def test_rejected_rollout_trains_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sia_sandbox.train import TrainConfig, train_from_rollouts

    rollouts = [_r(rollout_id=f"r{i}", reward=float(i % 2)) for i in range(4)]
    rollouts.append(_r(rollout_id="r-evil", reward=1.0, verdict="rejected"))
    with pytest.raises(TrainingError, match="r-evil"):
        train_from_rollouts(rollouts, TrainConfig(), adapters_dir=tmp_path / "adapters")
    assert not (tmp_path / "adapters").exists()
