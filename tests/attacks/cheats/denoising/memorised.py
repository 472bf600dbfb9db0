"""Cheat: a matrix memorised from the public nominal split (X_test leaked from a nominal run would
be the strongest form; here: the nominal X_train smoothed), returned whatever the input is."""

import numpy as np

MEMO_SHAPE = tuple(__SHAPE__)
MEMO = np.frombuffer(bytes.fromhex("__HEX__"), dtype=np.float32).reshape(MEMO_SHAPE)


def denoise(X):
    if X.shape == MEMO_SHAPE:
        return MEMO.astype(float)
    return np.zeros((MEMO_SHAPE[0], MEMO_SHAPE[1]))
