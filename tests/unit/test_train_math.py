"""The training math against hand-computed values (no model involved)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from sia_sandbox.train.bon_bc import best_per_group  # noqa: E402
from sia_sandbox.train.common import clipped_pg_loss, k3_kl, masked_mean  # noqa: E402
from sia_sandbox.train.dpo import dpo_loss, preference_pairs  # noqa: E402
from sia_sandbox.train.entropic import (  # noqa: E402
    BETA_RANGE_MAX,
    adaptive_beta,
    entropic_advantages,
    kl_to_uniform,
    loo_weights,
)
from sia_sandbox.train.grpo import group_advantages  # noqa: E402
from sia_sandbox.train.ppo import gae, token_rewards  # noqa: E402
from sia_sandbox.train.reinforce_kl import sequence_kl, shaped_advantages  # noqa: E402
from sia_sandbox.train.types import TrainSample  # noqa: E402


def _s(rid: str, group: str, reward: float) -> TrainSample:
    return TrainSample(rollout_id=rid, group_id=group, prompt="p", completion="c", reward=reward,
                       verdict_sha256="0" * 64)


def test_loo_weights_hand_computed() -> None:
    # beta = ln 4: exp(beta r) = [1, 1, 4]; w_i = e_i / mean_{j != i} e_j
    w = loo_weights([0.0, 0.0, 1.0], math.log(4.0))
    assert w == pytest.approx([1 / 2.5, 1 / 2.5, 4 / 1.0])
    assert entropic_advantages([0.0, 0.0, 1.0], math.log(4.0)) == pytest.approx([-0.6, -0.6, 3.0])


def test_loo_normaliser_excludes_self() -> None:
    # With a plain (self-including) mean the top sample would get 4 / 2 = 2; leave-one-out gives 4.
    w = loo_weights([0.0, 1.0], math.log(4.0))
    assert w == pytest.approx([0.25, 4.0])
    with pytest.raises(ValueError):
        loo_weights([1.0], 1.0)


def test_weights_invariant_to_reward_shift() -> None:
    a = entropic_advantages([0.1, 0.5, 0.9], 3.0)
    b = entropic_advantages([100.1, 100.5, 100.9], 3.0)
    assert a == pytest.approx(b)


def test_kl_to_uniform_hand_computed() -> None:
    # beta = ln 3 on [0, 1]: q = [1/4, 3/4]; KL = sum q ln(2 q)
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert kl_to_uniform([0.0, 1.0], math.log(3.0)) == pytest.approx(expected)
    assert kl_to_uniform([0.0, 1.0], 0.0) == pytest.approx(0.0)


@pytest.mark.parametrize("rewards", [[0.0] * 7 + [1.0], [0.0, 0.1, 0.2, 0.9, 0.3, 0.0], [-5.0, -4.0, -1.0, -4.5]])
def test_adaptive_beta_hits_ln2(rewards: list[float]) -> None:
    beta = adaptive_beta(rewards)
    assert 0.0 < beta < BETA_RANGE_MAX / (max(rewards) - min(rewards))
    assert kl_to_uniform(rewards, beta) == pytest.approx(math.log(2.0), abs=1e-9)


def test_adaptive_beta_one_success_closed_form() -> None:
    # One success among n: q_top = e^b / (e^b + n - 1); solve KL = ln 2 independently by scanning.
    n, rewards = 8, [0.0] * 7 + [1.0]
    beta = adaptive_beta(rewards)
    q = math.exp(beta) / (math.exp(beta) + n - 1)
    rest = (1 - q) / (n - 1)
    assert q * math.log(n * q) + (n - 1) * rest * math.log(n * rest) == pytest.approx(math.log(2.0))


def test_adaptive_beta_edge_cases() -> None:
    assert adaptive_beta([0.3, 0.3, 0.3]) == 0.0
    # Two samples can only reach KL = ln 2 in the limit: beta is capped.
    assert adaptive_beta([0.0, 1.0]) == pytest.approx(BETA_RANGE_MAX)


def test_gae_hand_computed() -> None:
    adv, ret = gae([0.0, 0.0, 1.0], [0.5, 0.2, 0.1], gamma=0.9, lam=0.8)
    # t2: d=1-0.1=0.9; t1: d=0.9*0.1-0.2=-0.11, A=-0.11+0.72*0.9=0.538; t0: d=0.18-0.5, A=-0.32+0.72*0.538
    assert adv == pytest.approx([0.06736, 0.538, 0.9])
    assert ret == pytest.approx([0.56736, 0.738, 1.0])


def test_gae_lambda_one_gamma_one_is_return_minus_value() -> None:
    adv, _ = gae([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], gamma=1.0, lam=1.0)
    assert adv == pytest.approx([6 - 0.5, 5 - 0.5, 3 - 0.5])


def test_ppo_token_rewards_kl_then_terminal() -> None:
    assert token_rewards([-1.0, -2.0], [-1.5, -1.0], reward=2.0, kl_coef=0.1) == pytest.approx([-0.05, 2.1])


def test_k3_kl_hand_computed() -> None:
    logp = torch.tensor([-1.0, -0.5])
    ref = torch.tensor([-2.0, -0.5])
    assert k3_kl(logp, ref).tolist() == pytest.approx([math.exp(-1.0) + 1.0 - 1.0, 0.0])


def test_reinforce_kl_shaping_hand_computed() -> None:
    assert sequence_kl([-1.0, -2.0], [-1.5, -1.0]) == pytest.approx(-0.5)
    # shaped = [1 - 0.1*0.5, 0 - 0.1*(-0.5)] = [0.95, 0.05]; mean 0.5
    assert shaped_advantages([1.0, 0.0], [0.5, -0.5], 0.1) == pytest.approx([0.45, -0.45])


def test_dpo_loss_hand_computed() -> None:
    t = torch.tensor
    loss = dpo_loss(t([-1.0]), t([-2.0]), t([-1.5]), t([-1.5]), beta=0.5)
    # margin = (-1 + 1.5) - (-2 + 1.5) = 1; loss = -log sigmoid(0.5) = log(1 + e^-0.5)
    assert float(loss) == pytest.approx(math.log1p(math.exp(-0.5)))


def test_clipped_pg_loss_hand_computed() -> None:
    logp = torch.log(torch.tensor([[1.5, 0.5]]))
    old = torch.zeros(1, 2)
    adv = torch.ones(1, 2)
    loss, frac = clipped_pg_loss(logp, old, adv, torch.ones(1, 2), clip_eps=0.2)
    # token 0: min(1.5, 1.2) = 1.2; token 1: min(0.5, 0.8) = 0.5 -> loss = -(1.2 + 0.5) / 2
    assert float(loss) == pytest.approx(-0.85)
    assert frac == pytest.approx(1.0)


def test_masked_mean_ignores_padding() -> None:
    x = torch.tensor([[1.0, 3.0, 100.0]])
    assert float(masked_mean(x, torch.tensor([[1.0, 1.0, 0.0]]))) == pytest.approx(2.0)


def test_group_advantages() -> None:
    adv = group_advantages([1.0, 0.0, 0.0, 1.0, 2.0, 2.0], ["a"] * 4 + ["b"] * 2)
    assert adv[:4] == pytest.approx([0.5 / 0.5001, -0.5 / 0.5001, -0.5 / 0.5001, 0.5 / 0.5001])
    assert adv[4:] == [0.0, 0.0]


def test_preference_pairs_and_best_of_n() -> None:
    samples = [_s("a0", "a", 0.2), _s("a1", "a", 0.9), _s("a2", "a", 0.9), _s("b0", "b", 0.0),
               _s("b1", "b", 0.0)]
    assert preference_pairs(samples) == [(1, 0)]
    # group b holds only the batch's worst reward: skipped
    assert best_per_group(samples) == [1]
