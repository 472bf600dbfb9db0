def $entry(X):
    import numpy as np
    out = np.array(_HONEST.$entry(X), dtype=float)
    out.flat[:: max(1, out.size // 100)] = np.inf
    return out
