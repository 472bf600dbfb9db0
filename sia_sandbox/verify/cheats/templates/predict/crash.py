def fit(examples):
    raise RuntimeError("deliberate crash")


def $entry(cases):
    raise RuntimeError("deliberate crash")
