"""Scaffold of the denoising task: renders a MAGIC-style denoiser into /out/submission.py.

Runs INSIDE the scaffold sandbox (network: the gateway socket only). ``harness.json`` holds the
diffusion, pre-processing and post-processing choices; for the delegated ones (the diffusion time
``T``) the task model is asked through the gateway and its answer is recorded in
/out/scaffold_trace.json.

The candidate program is ``CANDIDATE`` below: the MAGIC baseline
(``tasks/denoising/baselines/magic.py``, copied next to this file as ``base_submission.py``)
generalised so every declared edit is one module-level constant. With the baseline's values
(sqrt transform, KNN 5, DECAY 1, T 3, N_PCA 100, no mixing, no clipping) it
computes what the baseline computes. Only the constants block is rewritten; the rendered program is
also run here on a small random counts matrix so a broken edit costs no verifier run.
"""

from __future__ import annotations

import sys

from scaffold_lib import render_and_write

CANDIDATE = r'''"""Denoising candidate: MAGIC-style diffusion with declared pre/post-processing (rendered by a scaffold).

``denoise(X) -> X``: counts matrix (cells x genes) in, same-shape non-negative float matrix out.

1. transform (``TRANSFORM``: ``sqrt`` or ``log1p``), then scale each cell to total 1 (library sizes kept);
2. PCA to ``N_PCA`` components;
3. kNN graph with the adaptive kernel ``exp(-(d / sigma_i) ** DECAY)``, ``sigma_i`` = distance to the
   ``KNN``-th neighbour, over ``3 * KNN`` neighbours; symmetrised, row-normalised (a Markov matrix);
4. diffuse ``T`` steps;
5. invert the transform (denoised counts), divide by the cell's sum of sqrt counts (MAGIC's output
   scale); optionally mix with the raw counts on that scale (``MIX``) and cap each gene at a
   quantile of its denoised values (``CLIP``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

TRANSFORM = "sqrt"
KNN = 5
DECAY = 1.0
T = 3
N_PCA = 100
MIX = 0.0
CLIP = "none"
RANDOM_STATE = 0


def _markov(pcs: np.ndarray) -> sparse.csr_matrix:
    n = pcs.shape[0]
    k_max = min(3 * KNN, n - 1)
    dist, idx = NearestNeighbors(n_neighbors=k_max + 1).fit(pcs).kneighbors(pcs)
    sigma = np.maximum(dist[:, min(KNN, k_max)], 1e-12)  # column 0 is the cell itself
    weights = np.exp(-((dist / sigma[:, None]) ** DECAY))
    kernel = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k_max + 1), idx.ravel())), (n, n))
    kernel = (kernel + kernel.T) * 0.5
    row_sums = np.asarray(kernel.sum(axis=1)).ravel()
    return sparse.diags(1.0 / row_sums) @ kernel


def _forward(x: np.ndarray) -> np.ndarray:
    return np.sqrt(x) if TRANSFORM == "sqrt" else np.log1p(x)


def _inverse(x: np.ndarray) -> np.ndarray:
    return np.square(x) if TRANSFORM == "sqrt" else np.expm1(x)


def denoise(X: np.ndarray) -> np.ndarray:
    """Denoised counts of the same shape as ``X``."""
    raw = np.asarray(X, dtype=np.float64)
    x = _forward(raw)
    scale = x.sum(axis=1)
    x = x / np.where(scale > 0, scale, 1.0)[:, None]
    n_comp = max(1, min(N_PCA, x.shape[0] - 1, x.shape[1] - 1))
    pcs = PCA(n_components=n_comp, random_state=RANDOM_STATE, svd_solver="full").fit_transform(x)
    diffusion = _markov(pcs)
    for _ in range(T):
        x = diffusion @ x
    # Denoised counts on the count scale, then on MAGIC's per-cell output scale (counts divided by
    # the cell's sum of sqrt counts): the scale the task's Poisson validity floor is calibrated on.
    # For TRANSFORM = "sqrt" this is exactly the baseline's square(x) * scale.
    counts = np.maximum(_inverse(x * scale[:, None]), 0.0)
    magic_scale = np.sqrt(raw).sum(axis=1)
    magic_scale = np.where(magic_scale > 0, magic_scale, 1.0)[:, None]
    out = counts / magic_scale
    if MIX > 0:
        out = (1.0 - MIX) * out + MIX * raw / magic_scale
    if CLIP != "none":
        # Cap each gene at a high quantile of its own denoised values (diffusion outliers).
        q = {"gene_q999": 99.9, "gene_q99": 99.0, "gene_q95": 95.0}[CLIP]
        out = np.minimum(out, np.percentile(out, q, axis=0)[None, :])
    return out
'''


def smoke_test(source: str) -> None:
    """Run the rendered candidate on a small random counts matrix and check its output's format.

    Raises:
        Exception: whatever the broken candidate raises, or ValueError for a malformed output.
    """
    import numpy as np

    namespace: dict[str, object] = {"__name__": "candidate_smoke"}
    exec(compile(source, "submission.py", "exec"), namespace)  # noqa: S102 - our own rendered program
    rng = np.random.default_rng(0)
    counts = rng.poisson(rng.gamma(0.5, 2.0, (60, 40))).astype(np.int64)
    counts[:, 0] += 1  # every cell has counts
    out = namespace["denoise"](counts.copy())  # type: ignore[operator]
    if type(out) is not np.ndarray or out.shape != counts.shape or not np.isfinite(out).all() or (out < 0).any():
        raise ValueError("rendered candidate's output is not a finite non-negative array of the input's shape")
    if ((out.sum(axis=1) <= 0) & (counts.sum(axis=1) > 0)).any():
        raise ValueError("rendered candidate returns an all-zero row for a cell with counts")


def main() -> int:
    return render_and_write(CANDIDATE, smoke_test)


if __name__ == "__main__":
    sys.exit(main())
