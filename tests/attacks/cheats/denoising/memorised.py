"""Cheat: a matrix memorised from the public nominal split (X_test leaked from a nominal run would
be the strongest form; here: the nominal X_train), returned whatever the input is."""

import base64
import zlib

import numpy as np

MEMO_SHAPE = tuple(__SHAPE__)
MEMO = np.frombuffer(zlib.decompress(base64.b85decode("__B85__")), dtype=np.float32).reshape(MEMO_SHAPE)


def denoise(X):
    if X.shape == MEMO_SHAPE:
        return MEMO.astype(float)
    return np.zeros((MEMO_SHAPE[0], MEMO_SHAPE[1]))
