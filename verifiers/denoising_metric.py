"""Denoising metrics: OpenProblems' MSE and Poisson loss, normalised as TTT-Discover does.

Definitions (OpenProblems v1 ``tasks/denoising/metrics``, as vendored by TTT-Discover's
``examples/denoising``):

* **mse**: normalise each cell (row) of the held-out counts ``X_test`` and of the denoised matrix
  to total 10^4 (``scanpy.pp.normalize_total``: an all-zero row stays zero), ``log1p`` both, then
  the mean squared difference over all entries.
* **poisson**: rescale the denoised matrix by ``sum(X_test) / sum(X_train)``, then
  ``mean(X_test - d * log(X_test + 1e-6))``. This is ``poisson_nll_loss(y_pred=X_test, y_true=d)``
  from molecular-cross-validation, called with the arguments in the order OpenProblems uses, which
  is *reversed* from the docstring's meaning. We keep the order, so numbers match the benchmark;
  the effect is a heavy penalty for mass placed where the test counts are zero.

Normalisers (TTT-Discover's ``BASELINES``, which hold, per dataset, the score of "no denoising",
i.e. the raw ``X_train``, and of "perfect denoising", i.e. ``X_test`` itself). Here both are
recomputed on every split, because every split is fresh:

* ``mse_norm = clip((mse_none - mse) / (mse_none - mse_perfect), 0, 1)``, ``mse_perfect = 0``.
* ``poisson_norm = (poisson_none - poisson) / (poisson_none - poisson_perfect)``.
* **valid** requires: an ndarray of real numbers of exactly ``X_train``'s shape, all finite,
  non-negative, no entry above the largest cell total of ``X_train``; ``poisson >= poisson_perfect``
  and ``poisson_norm >= 0.97`` (TTT-Discover's ``verify_denoising``). The reward is ``mse_norm`` of
  a valid output and 0 otherwise.

What this does **not** check: whether the output was computed from ``X_train`` honestly; that is
the job of re-execution on fresh secret-seeded splits.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

TARGET_SUM = 1e4
"""Per-cell total both matrices are normalised to before log1p (OpenProblems' ``target_sum``)."""
POISSON_EPS = 1e-6
"""Added inside the log of the Poisson loss (molecular-cross-validation's constant)."""
POISSON_NORM_MIN = 0.97
"""Minimum normalised Poisson score of a valid output (TTT-Discover's ``verify_denoising``)."""
POISSON_BASELINE_RATIO = 0.99
"""Where MAGIC itself scores below ``POISSON_NORM_MIN``, the floor is this fraction of its score."""


class DenoiseReport(BaseModel):
    """Scores of one denoised matrix on one molecular cross-validation split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mse: float | None
    """MSE in log-normalised space; None when the output failed the format checks."""
    mse_none: float
    """MSE of the raw ``X_train`` (no denoising) on this split."""
    mse_perfect: float
    """MSE of ``X_test`` itself (0)."""
    mse_norm: float
    """``clip((mse_none - mse) / (mse_none - mse_perfect), 0, 1)``; 0 when ``mse`` is None."""
    poisson: float | None
    """OpenProblems Poisson loss; None when the output failed the format checks."""
    poisson_none: float
    """Poisson loss of the raw ``X_train``."""
    poisson_perfect: float
    """Poisson loss of ``X_test`` itself."""
    poisson_norm: float | None
    """``(poisson_none - poisson) / (poisson_none - poisson_perfect)``, unclipped."""
    valid: bool
    """Format checks pass, ``poisson >= poisson_perfect`` and ``poisson_norm >= 0.97``."""
    reasons: tuple[str, ...]
    """Why the output is invalid (empty when valid)."""
    score: float
    """The reward: ``mse_norm`` when valid, else 0."""


def _as_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def log_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to total 10^4 (all-zero rows stay zero), then ``log1p``."""
    x = _as_float(x)
    totals = x.sum(axis=1, keepdims=True)
    scale = np.where(totals > 0, totals / TARGET_SUM, 1.0)
    return np.log1p(x / scale)


def mse_log_normalized(x_test: np.ndarray, x_denoised: np.ndarray) -> float:
    """OpenProblems' ``mse`` metric."""
    diff = log_normalize(x_test) - log_normalize(x_denoised)
    return float(np.mean(diff * diff))


def poisson_loss(x_train: np.ndarray, x_test: np.ndarray, x_denoised: np.ndarray) -> float:
    """OpenProblems' ``poisson`` metric (argument order of ``poisson_nll_loss`` kept, see module doc)."""
    test = _as_float(x_test)
    scaled = _as_float(x_denoised) * (test.sum() / _as_float(x_train).sum())
    return float(np.mean(test - scaled * np.log(test + POISSON_EPS)))


def output_bound(x_train: np.ndarray) -> float:
    """Largest value a denoised entry may take: the largest cell total of ``x_train``."""
    return float(_as_float(x_train).sum(axis=1).max())


def check_output(x_denoised: object, x_train: np.ndarray) -> list[str]:
    """Format problems of a candidate's output (empty when it may be scored).

    Rejects NaN/inf (NaN is not a wildcard), negative values, values above :func:`output_bound`,
    all-zero rows for cells that have counts (they game the log-MSE on sparse data),
    a wrong shape, and anything that is not a plain real-valued ``numpy.ndarray`` (subclasses,
    object and complex arrays can change behaviour under arithmetic).
    """
    if type(x_denoised) is not np.ndarray:
        return [f"output is {type(x_denoised).__name__}, expected numpy.ndarray"]
    if x_denoised.dtype.kind not in "biuf":
        return [f"output dtype {x_denoised.dtype} is not a real number type"]
    if x_denoised.shape != x_train.shape:
        return [f"output shape {x_denoised.shape} != input shape {x_train.shape}"]
    reasons = []
    values = _as_float(x_denoised)
    if not np.isfinite(values).all():
        reasons.append(f"{int((~np.isfinite(values)).sum())} non-finite values")
    elif values.min() < 0:
        reasons.append(f"negative values (min {values.min():.3g})")
    elif values.max() > output_bound(x_train):
        reasons.append(f"value {values.max():.3g} above bound {output_bound(x_train):.3g}")
    else:
        # normalize_total leaves an all-zero row at zero, and on sparse data a zero row beats "no
        # denoising" on the log-MSE (and the Poisson loss): returning zeros would game the metric.
        # A denoiser must predict something for every cell that has counts.
        empty = int(((values.sum(axis=1) <= 0) & (_as_float(x_train).sum(axis=1) > 0)).sum())
        if empty:
            reasons.append(f"{empty} cells with counts got an all-zero output row")
    return reasons


def calibrated_poisson_min(baseline_poisson_norm: float) -> float:
    """The validity floor on a split where the standard method (MAGIC) scores ``baseline_poisson_norm``.

    TTT-Discover's absolute 0.97 was set on real datasets where MAGIC clears it. On our simulated
    splits MAGIC's own normalised Poisson score ranges over about 0.90-0.98 with the seed, so the
    absolute rule would reject the reference method on most secret splits. The floor is therefore
    0.97 where MAGIC clears it and 99% of MAGIC's score where it does not: a candidate may not be
    materially worse than MAGIC on the Poisson loss while it chases the MSE.
    """
    return min(POISSON_NORM_MIN, POISSON_BASELINE_RATIO * baseline_poisson_norm)


def score_denoised(x_denoised: object, x_train: np.ndarray, x_test: np.ndarray, *,
                   poisson_norm_min: float = POISSON_NORM_MIN) -> DenoiseReport:
    """Score a candidate's denoised matrix on one split.

    Args:
        x_denoised: the candidate's output for ``x_train`` (untrusted; checked here).
        x_train: the counts the candidate received (cells x genes).
        x_test: the held-out counts of the same split.
        poisson_norm_min: the validity floor (see :func:`calibrated_poisson_min`).

    Returns:
        The report; invalid outputs get ``valid=False``, reasons and score 0, never an exception.

    Raises:
        ValueError: ``x_train`` and ``x_test`` differ in shape or ``x_train`` has no counts
            (a verifier bug, not a candidate fault).
    """
    if x_train.shape != x_test.shape:
        raise ValueError(f"train shape {x_train.shape} != test shape {x_test.shape}")
    if _as_float(x_train).sum() <= 0:
        raise ValueError("x_train has no counts")
    mse_none = mse_log_normalized(x_test, x_train)
    mse_perfect = mse_log_normalized(x_test, x_test)
    poisson_none = poisson_loss(x_train, x_test, x_train)
    poisson_perfect = poisson_loss(x_train, x_test, x_test)
    reasons = check_output(x_denoised, x_train)
    if reasons:
        return DenoiseReport(
            mse=None, mse_none=mse_none, mse_perfect=mse_perfect, mse_norm=0.0, poisson=None,
            poisson_none=poisson_none, poisson_perfect=poisson_perfect, poisson_norm=None,
            valid=False, reasons=tuple(reasons), score=0.0,
        )
    assert isinstance(x_denoised, np.ndarray)  # check_output guarantees it; narrows the type
    mse = mse_log_normalized(x_test, x_denoised)
    poisson = poisson_loss(x_train, x_test, x_denoised)
    mse_range = mse_none - mse_perfect
    mse_norm = float(np.clip((mse_none - mse) / mse_range, 0.0, 1.0)) if mse_range > 0 else 0.0
    poisson_range = poisson_none - poisson_perfect
    poisson_norm = (poisson_none - poisson) / poisson_range if poisson_range > 0 else 0.0
    if poisson < poisson_perfect:
        reasons.append(f"poisson {poisson:.6g} below the perfect score {poisson_perfect:.6g}")
    if poisson_norm < poisson_norm_min:
        reasons.append(f"poisson_norm {poisson_norm:.4f} < {poisson_norm_min:.4f}")
    valid = not reasons
    return DenoiseReport(
        mse=mse, mse_none=mse_none, mse_perfect=mse_perfect, mse_norm=mse_norm, poisson=poisson,
        poisson_none=poisson_none, poisson_perfect=poisson_perfect, poisson_norm=float(poisson_norm),
        valid=valid, reasons=tuple(reasons), score=mse_norm if valid else 0.0,
    )
