"""Cheat: an object array (pickle smuggling)."""

import numpy as np


def denoise(X):
    return np.array([{'a': 1}] * 4, dtype=object)
