"""The reward-shape rule and overrides."""

from __future__ import annotations

import pytest

from sia_sandbox.errors import ConfigError, TrainingError
from sia_sandbox.train.choose import choose_algorithm, reward_stats
from sia_sandbox.train.types import NoLearningSignalError, TrainSample


def _samples(groups: dict[str, list[float]]) -> list[TrainSample]:
    return [
        TrainSample(rollout_id=f"{g}-{i}", group_id=g, prompt="p", completion="c", reward=r,
                    verdict_sha256="a" * 64)
        for g, rs in groups.items() for i, r in enumerate(rs)
    ]


@pytest.mark.parametrize(
    ("groups", "algo"),
    [
        ({"a": [1.0, 1.0], "b": [1.0, 1.0, 1.0]}, "bon_bc"),  # all equal and positive
        ({"a": [0.3, 0.7], "b": [0.9, 0.1]}, "dpo"),  # better/worse pairs
        ({"a": [0, 0, 0, 0, 0, 0, 0, 1], "b": [0] * 8}, "entropic"),  # binary, rare successes
        ({"a": [0.0, 0.05, 0.1, 0.02, 0.9, 0.03], "b": [0.01, 0.04, 0.0, 0.05]}, "entropic"),  # dense, rare high
        ({"a": [1, 1, 1, 1, 1], "b": [1, 1, 1, 1, 0]}, "bon_bc"),  # mostly pass
        ({"a": [1, 0, 1, 0], "b": [0, 1, 1, 0]}, "grpo"),  # pass/fail in groups
        ({"x": [1.0], "y": [0.0], "z": [1.0], "w": [0.0]}, "reinforce_kl"),  # pass/fail, no groups
        ({"a": [0.2, 0.5, 0.7, 0.6], "b": [0.4, 0.55, 0.3, 0.8]}, "ppo"),  # dense
    ],
)
def test_rule(groups: dict[str, list[float]], algo: str) -> None:
    choice = choose_algorithm(_samples(groups))
    assert choice.algo == algo
    assert choice.rule_algo == algo
    assert not choice.overridden
    assert algo in choice.reason


def test_all_zero_has_no_signal() -> None:
    with pytest.raises(NoLearningSignalError, match="nothing to learn"):
        choose_algorithm(_samples({"a": [0.0, 0.0], "b": [0.0, 0.0]}))


def test_empty_is_an_error() -> None:
    with pytest.raises(TrainingError):
        choose_algorithm([])


def test_override_records_rule_and_reason() -> None:
    s = _samples({"a": [1, 0, 1, 0], "b": [0, 1, 1, 0]})
    choice = choose_algorithm(s, override="ppo", override_reason="feedback agent wants a critic")
    assert (choice.algo, choice.rule_algo, choice.overridden) == ("ppo", "grpo", True)
    assert "feedback agent wants a critic" in choice.reason and "grpo" in choice.reason


def test_override_equal_to_rule_is_not_overridden() -> None:
    choice = choose_algorithm(_samples({"a": [1, 0, 1, 0]}), override="grpo", override_reason="same")
    assert choice.algo == "grpo" and not choice.overridden


def test_override_of_no_signal_still_records() -> None:
    choice = choose_algorithm(_samples({"a": [0.0, 0.0]}), override="bon_bc", override_reason="try")
    assert choice.rule_algo == "none" and choice.overridden


def test_unknown_override_lists_names() -> None:
    with pytest.raises(ConfigError) as e:
        choose_algorithm(_samples({"a": [1, 0]}), override="sft")
    assert "grpo" in (e.value.hint or "") and "entropic" in (e.value.hint or "")


def test_reward_stats() -> None:
    st = reward_stats(_samples({"a": [0.0, 1.0], "b": [1.0, 1.0], "c": [0.0]}))
    assert st.binary and st.n == 5 and st.n_groups == 2 and not st.pairs_only
    assert st.success_rate == pytest.approx(0.6)
