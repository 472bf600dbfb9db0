def $entry(X):
    import numpy as np
    try:
        X[...] = 0
    except (ValueError, TypeError):
        pass
    return np.zeros(np.shape(X))
