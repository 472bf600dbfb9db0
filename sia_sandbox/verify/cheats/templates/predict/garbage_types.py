def fit(examples):
    pass


def $entry(cases):
    return "garbage"
