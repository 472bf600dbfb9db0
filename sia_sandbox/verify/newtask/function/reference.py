"""Honest reference for __TASK__: a centred moving average (the baseline every submission should beat)."""

import numpy as np


def solve(x):
    x = np.asarray(x, dtype=float)
    k = 9
    pad = np.pad(x, ((0, 0), (k // 2, k // 2)), mode="edge")
    kernel = np.ones(k) / k
    return np.stack([np.convolve(row, kernel, mode="valid") for row in pad])
