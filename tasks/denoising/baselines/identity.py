"""Trivial baseline candidate for denoising: return the input counts unchanged.

Its mse_norm is 0 by definition (it *is* the "no denoising" normaliser) and its Poisson score is
far from the 0.97 validity threshold, so the verifier must reject it; a useful lower anchor.
"""

from __future__ import annotations

import numpy as np


def denoise(X: np.ndarray) -> np.ndarray:
    """``X`` as a float array (a copy)."""
    return np.array(X, dtype=np.float64)
