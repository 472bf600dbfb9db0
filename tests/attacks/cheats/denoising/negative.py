"""Cheat: negative values (breaks the count model)."""

import numpy as np


def denoise(X):
    return -np.ones_like(X, dtype=float)
