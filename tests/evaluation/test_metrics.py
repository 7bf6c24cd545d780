"""Metrics match a hand-computed example; the threshold comes from validation data."""

from __future__ import annotations

import numpy as np
import pytest

from pneumoscan.evaluation.metrics import evaluate_predictions, point_metrics
from pneumoscan.evaluation.threshold import choose_threshold


def test_point_metrics_match_a_hand_computed_confusion_matrix():
    # 4 pneumonia, 4 normal; at 0.5: TP 3, FN 1, TN 3, FP 1
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.3, 0.2, 0.1])
    m = point_metrics(y, p, 0.5)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
    # AUC: of 16 (pos, neg) pairs, the pos scores higher in all but (0.6 vs 0.7), (0.4 vs 0.7): 14/16
    assert m["auc"] == pytest.approx(14 / 16)


def test_evaluate_predictions_gives_confusion_matrix_and_intervals_around_the_value():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.4 + rng.uniform(0, 0.6, 400), 0, 1)
    m = evaluate_predictions(y, p, 0.5, n_boot=200)
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert tn + fp + fn + tp == 400 and m["n"] == 400
    for k in ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc"):
        assert m[k]["ci_low"] <= m[k]["value"] <= m[k]["ci_high"]
        assert m[k]["ci_high"] - m[k]["ci_low"] < 0.2


def test_threshold_reaches_the_sensitivity_with_the_best_specificity():
    y = np.array([1] * 20 + [0] * 20)
    p = np.concatenate([np.linspace(0.3, 0.99, 20), np.linspace(0.0, 0.6, 20)])
    t = choose_threshold(y, p, "sensitivity", min_sensitivity=0.95)
    m = point_metrics(y, p, t)
    assert m["sensitivity"] >= 0.95
    # any higher candidate threshold loses the sensitivity target
    higher = sorted(v for v in p if v > t)[0]
    assert point_metrics(y, p, higher)["sensitivity"] < 0.95


def test_threshold_rules_and_errors():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert choose_threshold(y, p, "fixed", fixed=0.42) == 0.42
    assert choose_threshold(y, p, "youden") in (0.35, 0.8)
    with pytest.raises(ValueError, match="Only sensitivity, youden, fixed"):
        choose_threshold(y, p, "magic")
    with pytest.raises(ValueError, match="both NORMAL and PNEUMONIA"):
        choose_threshold(np.zeros(4), p)
