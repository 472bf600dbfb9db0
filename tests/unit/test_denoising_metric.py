"""Denoising metric: OpenProblems MSE / Poisson, TTT-Discover normalisation and validity."""

from __future__ import annotations

import numpy as np
import pytest

from verifiers.denoising_data import mcv_split, simulate_counts
from verifiers.denoising_metric import (
    log_normalize,
    mse_log_normalized,
    poisson_loss,
    score_denoised,
)


@pytest.fixture(scope="module")
def split():  # small: 120 cells x 400 genes
    return mcv_split(simulate_counts(3, n_cells=120, n_genes=400, n_types=3).counts, 3)


def test_log_normalize_hand_computed() -> None:
    x = np.array([[1.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(log_normalize(x), [[np.log1p(2500.0), np.log1p(7500.0)], [0.0, 0.0]])


def test_mse_scale_invariant_per_cell() -> None:
    a = np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 1.0]])
    assert mse_log_normalized(a, a * np.array([[3.0], [0.5]])) == pytest.approx(0.0, abs=1e-12)


def test_poisson_hand_computed() -> None:
    train, test, den = np.array([[9.0, 9.0]]), np.array([[1.0, 2.0]]), np.array([[3.0, 6.0]])
    scaled = den * 3.0 / 18.0
    expected = np.mean(test - scaled * np.log(test + 1e-6))
    assert poisson_loss(train, test, den) == pytest.approx(expected)


def test_normalisers(split) -> None:
    none = score_denoised(split.x_train.astype(float), split.x_train, split.x_test)
    assert none.mse == pytest.approx(none.mse_none) and none.mse_norm == 0.0
    assert none.poisson_norm == pytest.approx(0.0) and not none.valid and none.score == 0.0
    perfect = score_denoised(split.x_test.astype(float), split.x_train, split.x_test)
    assert perfect.mse == 0.0 and perfect.mse_norm == 1.0 and perfect.valid and perfect.score == 1.0


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda x: x[:, :-1].astype(float), "shape"),
        (lambda x: np.where(x > 0, np.nan, 0.0), "non-finite"),
        (lambda x: x - 1.0, "negative"),
        (lambda x: x * 1e9, "above bound"),
        (lambda x: x.astype(complex), "dtype"),
        (lambda x: x.tolist(), "expected numpy.ndarray"),
        (lambda x: np.ma.masked_array(x.astype(float)), "expected numpy.ndarray"),
    ],
)
def test_bad_outputs_rejected(split, make, reason: str) -> None:
    r = score_denoised(make(split.x_train), split.x_train, split.x_test)
    assert not r.valid and r.score == 0.0 and r.mse is None
    assert any(reason in s for s in r.reasons)


def test_poisson_below_perfect_is_invalid(split) -> None:
    # Inflating mass where counts are high drives the (reversed-argument) loss below "perfect".
    hack = np.where(split.x_test > 1, 1e3, 0.0)
    r = score_denoised(hack, split.x_train, split.x_test)
    assert r.poisson is not None and r.poisson < r.poisson_perfect
    assert not r.valid and any("below the perfect" in s for s in r.reasons)


def test_train_test_shape_mismatch_raises(split) -> None:
    with pytest.raises(ValueError):
        score_denoised(split.x_train, split.x_train, split.x_test[:, :-1])
