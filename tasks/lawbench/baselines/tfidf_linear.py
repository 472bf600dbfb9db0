"""Baseline candidate for lawbench: character n-gram TF-IDF + one-vs-rest linear classifiers.

Self-contained (numpy, scipy, scikit-learn, stdlib), no model calls. Interface:

* ``fit(examples)``: ``examples`` is a list of ``{"id", "facts", "charges": [..]}``.
* ``predict(cases) -> list[list[str]]``: ``cases`` is a list of ``{"id", "facts"}``; one list of
  charge names per case, in input order.

Multi-label decision: always the top-1 charge (never abstain; abstention scores 0), plus every other
charge whose probability is at least ``REL_THRESHOLD`` times the top one and above ``ABS_THRESHOLD``.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

NGRAM_RANGE = (1, 2)
MAX_FEATURES = 100_000
C = 20.0
REL_THRESHOLD = 0.6
ABS_THRESHOLD = 0.15

_STATE: dict[str, object] = {}


def _clean(facts: str) -> str:
    # "××" masks statute numbers and sentences in CAIL; it carries no signal about the charge.
    return facts.replace("×", "")


def fit(examples: list[dict]) -> None:
    """Train on labelled cases; replaces any previous model."""
    texts = [_clean(e["facts"]) for e in examples]
    labels = [sorted(set(e["charges"])) for e in examples]
    vectorizer = TfidfVectorizer(
        analyzer="char", ngram_range=NGRAM_RANGE, sublinear_tf=True, max_features=MAX_FEATURES
    )
    features = vectorizer.fit_transform(texts)
    binarizer = MultiLabelBinarizer()
    targets = binarizer.fit_transform(labels)
    classifier = OneVsRestClassifier(LogisticRegression(C=C, max_iter=2000, solver="liblinear"))
    classifier.fit(features, targets)
    _STATE.update(vectorizer=vectorizer, binarizer=binarizer, classifier=classifier)


def predict(cases: list[dict]) -> list[list[str]]:
    """Charges for each case, in input order."""
    if not _STATE:
        raise RuntimeError("call fit(examples) before predict(cases)")
    vectorizer: TfidfVectorizer = _STATE["vectorizer"]  # type: ignore[assignment]
    binarizer: MultiLabelBinarizer = _STATE["binarizer"]  # type: ignore[assignment]
    classifier: OneVsRestClassifier = _STATE["classifier"]  # type: ignore[assignment]
    if not cases:
        return []
    proba = np.asarray(classifier.predict_proba(vectorizer.transform([_clean(c["facts"]) for c in cases])))
    names = list(binarizer.classes_)
    out: list[list[str]] = []
    for row in proba:
        top = int(np.argmax(row))
        keep = [top] + [
            int(j)
            for j in np.argsort(-row)[1:4]
            if row[j] >= max(ABS_THRESHOLD, REL_THRESHOLD * row[top])
        ]
        out.append([names[j] for j in keep])
    return out
