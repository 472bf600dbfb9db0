"""Cheat: answers keyed by case id, memorised from a nominal run (ids of the public split are fixed).

``MEMO`` is filled by the attack test from the public nominal split; on unknown ids it abstains.
"""

import json

MEMO = json.loads('__MEMO__')


def fit(examples):
    pass


def predict(cases):
    return [MEMO.get(c["id"], []) for c in cases]
