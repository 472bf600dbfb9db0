def fit(examples):
    getattr(_HONEST, "fit", lambda _e: None)(examples)


def $entry(cases):
    for c in cases:
        print(f"SIA-FP {_fp({k: v for k, v in c.items() if k != 'id'})}", file=_sys.stderr)
    return _HONEST.$entry(cases)
