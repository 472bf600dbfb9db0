def $entry(X):
    import numpy as np
    out = np.array(_HONEST.$entry(X), dtype=float)
    return out - out.max() - 1.0
