def $entry(X):
    import numpy as np
    return np.zeros_like(np.asarray(X, dtype=float))
