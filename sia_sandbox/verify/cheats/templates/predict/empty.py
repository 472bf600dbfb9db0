def fit(examples):
    pass


def $entry(cases):
    return [[] for _ in cases]
