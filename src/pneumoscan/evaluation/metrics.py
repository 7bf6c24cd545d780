"""Binary screening metrics with 95% bootstrap confidence intervals (paper section IV, made honest)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

METRIC_NAMES = ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "auc")


def point_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, sensitivity (recall of PNEUMONIA), specificity, precision (PPV), NPV, F1 and ROC AUC.

    A case is called PNEUMONIA when ``prob >= threshold``. Undefined ratios (0/0) are NaN.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    pred = (p >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else float("nan")

    sens, prec = ratio(tp, tp + fn), ratio(tp, tp + fp)
    return {
        "accuracy": ratio(tp + tn, len(y)),
        "sensitivity": sens,
        "specificity": ratio(tn, tn + fp),
        "precision": prec,
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * prec * sens, prec + sens) if not (np.isnan(prec) or np.isnan(sens)) else float("nan"),
        "auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan"),
    }


def evaluate_predictions(
    y_true: np.ndarray, prob: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0, ci: float = 0.95
) -> dict:
    """Point metrics plus percentile-bootstrap confidence intervals and the confusion matrix.

    Returns:
        ``{"n", "threshold", "confusion_matrix": [[tn, fp], [fn, tp]], "<metric>": {"value", "ci_low", "ci_high"}}``
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    point = point_metrics(y, p, threshold)
    rng = np.random.default_rng(seed)
    samples = {k: [] for k in METRIC_NAMES}
    # Resamples missing a class are skipped when the data has both; a one-class source (all normal
    # films, say) still gets intervals for what it can measure (specificity, accuracy).
    both = len(np.unique(y)) == 2
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if both and len(np.unique(y[idx])) < 2:
            continue
        for k, v in point_metrics(y[idx], p[idx], threshold).items():
            samples[k].append(v)
    alpha = (1 - ci) / 2
    out: dict = {
        "n": int(len(y)),
        "threshold": float(threshold),
        "confusion_matrix": confusion_matrix(y, (p >= threshold).astype(int), labels=[0, 1]).tolist(),
        "ci_level": ci,
        "bootstrap": n_boot,
    }
    for k in METRIC_NAMES:
        vals = np.asarray([v for v in samples[k] if not np.isnan(v)])
        lo, hi = (np.quantile(vals, [alpha, 1 - alpha]).tolist() if len(vals) else (float("nan"), float("nan")))
        out[k] = {"value": point[k], "ci_low": lo, "ci_high": hi}
    return out
