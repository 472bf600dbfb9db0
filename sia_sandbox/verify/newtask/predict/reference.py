"""Honest reference for __TASK__: nearest centroid (the baseline every submission should beat)."""

import numpy as np

_MODEL = {}


def fit(examples):
    xs = np.array([e["x"] for e in examples], dtype=float)
    ys = [e["labels"][0] for e in examples]
    labels = sorted(set(ys))
    _MODEL["labels"] = labels
    _MODEL["centroids"] = np.stack([xs[[y == lab for y in ys]].mean(0) for lab in labels])


def predict(cases):
    xs = np.array([c["x"] for c in cases], dtype=float)
    d = ((xs[:, None, :] - _MODEL["centroids"][None]) ** 2).sum(-1)
    return [[_MODEL["labels"][i]] for i in d.argmin(1)]
