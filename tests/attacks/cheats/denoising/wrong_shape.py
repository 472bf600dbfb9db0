"""Cheat: wrong shape (transposed)."""

import numpy as np


def denoise(X):
    return X.T.astype(float)
