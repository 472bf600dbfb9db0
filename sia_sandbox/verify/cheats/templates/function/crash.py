def $entry(X):
    raise RuntimeError("deliberate crash")
