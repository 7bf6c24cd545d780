"""Choose the decision threshold on the validation split (never on test)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

RULES = ("sensitivity", "youden", "fixed")


def choose_threshold(
    y_val: np.ndarray, prob_val: np.ndarray, rule: str = "sensitivity", min_sensitivity: float = 0.95,
    fixed: float = 0.5,
) -> float:
    """Pick the threshold (call PNEUMONIA when ``prob >= threshold``).

    Rules:
        ``sensitivity``: the highest specificity whose sensitivity is at least ``min_sensitivity``
        (a screening tool must not miss pneumonia); ``youden``: max(sensitivity + specificity - 1);
        ``fixed``: ``fixed``.

    Raises:
        ValueError: unknown rule, or a validation split without both classes.
    """
    if rule not in RULES:
        raise ValueError(f"Invalid threshold rule {rule!r}. Only {', '.join(RULES)} are supported.")
    if rule == "fixed":
        return float(fixed)
    y = np.asarray(y_val).astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("The validation split needs both NORMAL and PNEUMONIA images to choose a threshold.")
    fpr, tpr, thresholds = roc_curve(y, np.asarray(prob_val, dtype=float))
    thresholds = np.minimum(thresholds, 1.0)  # roc_curve's first threshold is +inf
    if rule == "youden":
        return float(thresholds[int(np.argmax(tpr - fpr))])
    ok = np.flatnonzero(tpr >= min_sensitivity)
    # thresholds fall as tpr rises: the first index reaching the sensitivity has the lowest fpr.
    return float(thresholds[ok[0]])
