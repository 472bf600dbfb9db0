def $entry(X):
    import numpy as np
    out = np.asarray(_HONEST.$entry(X))
    return out[:-1] if out.ndim and out.shape[0] > 1 else np.zeros((3, 3))
