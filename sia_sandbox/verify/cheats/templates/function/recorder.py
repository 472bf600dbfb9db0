def $entry(X):
    print(f"SIA-FP {_fp(X)}", file=_sys.stderr, flush=True)
    return _HONEST.$entry(X)
