"""Scaffold of the lawbench task: renders a charge predictor into /out/submission.py.

Runs INSIDE the scaffold sandbox (network: the gateway socket only). ``harness.json`` holds the
feature, classifier and threshold choices; for the delegated ones (the regularisation ``C``) the task
model is asked through the gateway and its answer is recorded in /out/scaffold_trace.json.

The candidate program is ``CANDIDATE`` below: the TF-IDF + one-vs-rest linear baseline
(``tasks/lawbench/baselines/tfidf_linear.py``, copied next to this file as ``base_submission.py``)
generalised so every declared edit is one module-level constant. With the baseline's values
(char analyzer, (1, 2), 100000 features, logistic regression, C=20, thresholds 0.6/0.15) it is the
baseline. Only the constants block is rewritten; the rendered program must compile, and is also
imported and exercised on a few toy cases here so a broken edit costs no verifier run.
"""

from __future__ import annotations

import sys

from scaffold_lib import render_and_write

CANDIDATE = r'''"""LawBench 3-3 candidate: character n-gram TF-IDF + one-vs-rest linear classifiers (rendered by a scaffold).

Interface: ``fit(examples)`` with ``{"id", "facts", "charges"}`` items, then
``predict(cases) -> list[list[str]]`` with ``{"id", "facts"}`` items, one list per case, in order.
Decision: always the top-scoring charge (never abstain), plus every other charge whose score is at
least ``REL_THRESHOLD`` times the top one and at least ``ABS_THRESHOLD``.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

ANALYZER = "char"
NGRAM_RANGE = (1, 2)
MAX_FEATURES = 100000
SUBLINEAR_TF = True
CLASSIFIER = "logreg"
C = 20.0
CLASS_WEIGHT = "none"
REL_THRESHOLD = 0.6
ABS_THRESHOLD = 0.15
MAX_EXTRA = 3

_STATE: dict[str, object] = {}


def _clean(facts: str) -> str:
    # "××" masks statute numbers and sentences in CAIL; it carries no signal about the charge.
    return facts.replace("\u00d7", "")


def _classifier(n_samples: int):
    weight = None if CLASS_WEIGHT == "none" else CLASS_WEIGHT
    if CLASSIFIER == "logreg":
        return LogisticRegression(C=C, max_iter=2000, solver="liblinear", class_weight=weight)
    if CLASSIFIER == "linear_svc":
        return LinearSVC(C=C, max_iter=5000, class_weight=weight)
    if CLASSIFIER == "ridge":
        return RidgeClassifier(alpha=1.0 / C, class_weight=weight)
    if CLASSIFIER == "sgd":
        return SGDClassifier(loss="modified_huber", alpha=1.0 / (C * max(n_samples, 1)), max_iter=50,
                             tol=None, class_weight=weight, random_state=0)
    raise ValueError(f"unknown CLASSIFIER {CLASSIFIER!r}")


def fit(examples: list[dict]) -> None:
    """Train on labelled cases; replaces any previous model."""
    texts = [_clean(e["facts"]) for e in examples]
    labels = [sorted(set(e["charges"])) for e in examples]
    vectorizer = TfidfVectorizer(analyzer=ANALYZER, ngram_range=tuple(NGRAM_RANGE), sublinear_tf=SUBLINEAR_TF,
                                 max_features=MAX_FEATURES)
    features = vectorizer.fit_transform(texts)
    binarizer = MultiLabelBinarizer()
    targets = binarizer.fit_transform(labels)
    classifier = OneVsRestClassifier(_classifier(len(texts)))
    classifier.fit(features, targets)
    _STATE.update(vectorizer=vectorizer, binarizer=binarizer, classifier=classifier)


def _scores(classifier, features) -> np.ndarray:
    # Probabilities where the classifier has them; otherwise margins squashed into (0, 1), so the
    # same relative/absolute thresholds apply to every classifier.
    if CLASSIFIER == "logreg":
        return np.asarray(classifier.predict_proba(features))
    margins = np.asarray(classifier.decision_function(features), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-2.0 * margins))


def predict(cases: list[dict]) -> list[list[str]]:
    """Charges for each case, in input order."""
    if not _STATE:
        raise RuntimeError("call fit(examples) before predict(cases)")
    if not cases:
        return []
    vectorizer = _STATE["vectorizer"]
    names = list(_STATE["binarizer"].classes_)
    scores = _scores(_STATE["classifier"], vectorizer.transform([_clean(c["facts"]) for c in cases]))
    if scores.ndim == 1:
        scores = scores[:, None]
    out: list[list[str]] = []
    for row in scores:
        top = int(np.argmax(row))
        keep = [top] + [int(j) for j in np.argsort(-row)[1:1 + MAX_EXTRA]
                        if row[j] >= max(ABS_THRESHOLD, REL_THRESHOLD * row[top])]
        out.append([names[j] for j in keep])
    return out
'''

_TOY_TRAIN = [
    {"id": "t0", "facts": "被告人张某盗窃他人手机一部，价值人民币二千元。", "charges": ["盗窃"]},
    {"id": "t1", "facts": "被告人李某持刀故意伤害被害人，致其轻伤。", "charges": ["故意伤害"]},
    {"id": "t2", "facts": "被告人王某醉酒驾驶机动车，血液酒精含量超标。", "charges": ["危险驾驶"]},
    {"id": "t3", "facts": "被告人赵某盗窃电动车后持刀伤害失主。", "charges": ["盗窃", "故意伤害"]},
]


def smoke_test(source: str) -> None:
    """Compile and exercise the rendered candidate on toy cases (inputs as the verifier shapes them).

    Raises:
        Exception: whatever the broken candidate raises; the scaffold then fails loudly.
    """
    namespace: dict[str, object] = {"__name__": "candidate_smoke"}
    exec(compile(source, "submission.py", "exec"), namespace)  # noqa: S102 - our own rendered program
    namespace["fit"](_TOY_TRAIN)  # type: ignore[operator]
    preds = namespace["predict"]([{"id": c["id"], "facts": c["facts"]} for c in _TOY_TRAIN])  # type: ignore[operator]
    if not (isinstance(preds, list) and len(preds) == len(_TOY_TRAIN)
            and all(isinstance(p, list) and p and all(isinstance(x, str) for x in p) for p in preds)):
        raise ValueError(f"rendered candidate answers {preds!r}, not one non-empty list of str per case")


def main() -> int:
    return render_and_write(CANDIDATE, smoke_test)


if __name__ == "__main__":
    sys.exit(main())
