def $entry(X):
    import numpy as np
    return np.zeros((0,))
