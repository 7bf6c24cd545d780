"""A standardised, class-balanced logistic regression on the model's own features of one pass.

The population check (``models/population.py``) and the bacterial-vs-viral head
(``models/subtype.py``) are both this: ``p = sigmoid(((x - mean) / scale) @ coef + intercept)`` on
either the pooled features or every block's mean. Fitting, scoring and choosing the input live here once.
"""

from __future__ import annotations

import numpy as np

FEATURE_KINDS: tuple[str, ...] = ("pooled", "block_means")


def fit_standardized_logistic(
    x: np.ndarray, y: np.ndarray, c: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(mean, scale, coef, intercept)`` (float32 arrays) of a balanced L2 logistic regression (C=``c``)
    fitted on ``x`` standardised column by column."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    clf.fit((x - mean) / scale, np.asarray(y))
    return (mean.astype(np.float32), scale.astype(np.float32), clf.coef_[0].astype(np.float32),
            float(clf.intercept_[0]))


def logistic_score(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float
                   ) -> np.ndarray:
    """P(label 1) for each row of ``x``."""
    z = ((np.asarray(x, np.float32) - mean) / scale) @ coef + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def pick_features(kind: str, pooled: np.ndarray | None, block_means: np.ndarray | None) -> np.ndarray | None:
    """The input a head of feature kind ``kind`` reads from one pass's outputs."""
    return block_means if kind == "block_means" else pooled
