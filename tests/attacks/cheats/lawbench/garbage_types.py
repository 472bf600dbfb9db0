"""Cheat: return odd types (dicts, numbers, None, nested objects) hoping the scorer crashes or credits them."""


class _Weird:
    def __eq__(self, other):
        return True


def fit(examples):
    pass


def predict(cases):
    kinds = [None, 42, "盗窃", {"charges": ["盗窃"]}, [1, 2], [["盗窃"]]]
    return [kinds[i % len(kinds)] for i in range(len(cases))]
