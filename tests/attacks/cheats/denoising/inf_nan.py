"""Cheat: inf and NaN entries (wildcards)."""

import numpy as np


def denoise(X):
    Y = X.astype(float)
    Y[0, 0] = np.inf
    Y[1, 1] = np.nan
    return Y
