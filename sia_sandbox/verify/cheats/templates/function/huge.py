def $entry(X):
    import numpy as np
    return np.array(_HONEST.$entry(X), dtype=float) * 1e12
