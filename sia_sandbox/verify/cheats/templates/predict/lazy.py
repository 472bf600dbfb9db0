def fit(examples):
    getattr(_HONEST, "fit", lambda _e: None)(examples)


def $entry(cases):
    return (p for p in _HONEST.$entry(cases))
