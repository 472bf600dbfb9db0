def $entry(X):
    import numpy as np
    out = np.asarray(_HONEST.$entry(X), dtype=float)
    out[...] = np.nan
    return out
