"""Small hand-made classifiers shared by the tests (their predictions follow a stated rule, so a test can tell
what any correct procedure must choose)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Ranker(ClassifierMixin, BaseEstimator):
    """P(1) = expit(X[column] − cut): the AUC depends only on ``column``, the accuracy only on ``cut``."""

    def __init__(self, column="x1", cut=0.0):
        self.column = column
        self.cut = cut

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-(X[self.column].to_numpy(dtype=float) - self.cut)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)
