"""Baseline candidate for denoising: MAGIC-style diffusion (van Dijk et al. 2018).

Self-contained (numpy, scikit-learn). ``denoise(X) -> X`` takes a counts matrix (cells x genes) and
returns a same-shape non-negative float matrix. Steps, following the MAGIC variant used as the
starting point of TTT-Discover's denoising task:

1. ``sqrt`` transform, then library-size normalise each cell to sum 1 (keep the library sizes);
2. PCA to ``N_PCA`` components;
3. kNN graph with an adaptive Gaussian-like kernel: ``exp(-(d / sigma_i) ** DECAY)``, where
   ``sigma_i`` is the distance from cell i to its ``KNN``-th neighbour, over ``KNN_MAX`` neighbours;
   symmetrised and row-normalised into a Markov matrix;
4. diffuse ``T`` steps;
5. undo the transform: square and multiply back by the library sizes.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

KNN = 5
KNN_MAX = 15
DECAY = 1.0
T = 3
N_PCA = 100
RANDOM_STATE = 0


def _markov(pcs: np.ndarray) -> sparse.csr_matrix:
    n = pcs.shape[0]
    k_max = min(KNN_MAX, n - 1)
    dist, idx = NearestNeighbors(n_neighbors=k_max + 1).fit(pcs).kneighbors(pcs)
    sigma = np.maximum(dist[:, min(KNN, k_max)], 1e-12)  # column 0 is the cell itself
    weights = np.exp(-((dist / sigma[:, None]) ** DECAY))
    kernel = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k_max + 1), idx.ravel())), (n, n))
    kernel = (kernel + kernel.T) * 0.5
    row_sums = np.asarray(kernel.sum(axis=1)).ravel()
    return sparse.diags(1.0 / row_sums) @ kernel


def denoise(X: np.ndarray) -> np.ndarray:
    """Denoised counts of the same shape as ``X``."""
    x = np.sqrt(np.asarray(X, dtype=np.float64))
    libsize = x.sum(axis=1)
    x = x / np.where(libsize > 0, libsize, 1.0)[:, None]
    n_comp = min(N_PCA, x.shape[0] - 1, x.shape[1] - 1)
    pcs = PCA(n_components=n_comp, random_state=RANDOM_STATE, svd_solver="full").fit_transform(x)
    diffusion = _markov(pcs)
    for _ in range(T):
        x = diffusion @ x
    return np.square(x) * libsize[:, None]
