_MOST = []


def fit(examples):
    from collections import Counter
    c = Counter(ch for ex in examples for ch in ex.get("$label_key", []))
    _MOST[:] = [c.most_common(1)[0][0]] if c else []


def $entry(cases):
    return [list(_MOST) for _ in cases]
