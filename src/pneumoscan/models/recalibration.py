"""Probability recalibration a site fitted on its own images, applied before the threshold.

``pneumoscan calibrate --recalibrate platt|isotonic`` fits it (scikit-learn) and stores it in the
checkpoint meta as plain numbers, like the refusal gate (``models.ood``); ``Predictor`` applies it
to every probability, so serving needs no scikit-learn object and no pickle:

- Platt: ``{"method": "platt", "a": a, "b": b}``; ``p' = 1 / (1 + exp(-(a * logit(p) + b)))``.
- Isotonic: ``{"method": "isotonic", "x": [...], "y": [...]}``; ``p'`` is the piecewise-linear
  interpolation through the points, constant outside them (scikit-learn's ``out_of_bounds="clip"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

METHODS = ("none", "platt", "isotonic")
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Recalibration:
    """A monotone map from the model's P(pneumonia) to a recalibrated probability.

    Attributes:
        method: ``none``, ``platt`` or ``isotonic``.
        a, b: the Platt slope and intercept on the logit.
        x, y: the isotonic curve's points (x increasing).
    """

    method: str = "none"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Invalid recalibration {self.method!r}. Only {', '.join(METHODS)} are supported.")
        if self.method == "isotonic" and (len(self.x) != len(self.y) or len(self.x) < 1):
            raise ValueError("An isotonic recalibration needs x and y arrays of the same, non-zero length.")

    @classmethod
    def fit(cls, y: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray, method: str) -> Recalibration:
        """Fit on labelled scores: Platt (logistic regression on the logit) or isotonic regression.

        Raises:
            ValueError: an unknown method, or labels without both classes.
        """
        if method not in METHODS:
            raise ValueError(f"Invalid recalibration {method!r}. Only {', '.join(METHODS)} are supported.")
        if method == "none":
            return cls()
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            raise ValueError("Recalibration needs both NORMAL and PNEUMONIA images among those answered.")
        p = np.asarray(prob, dtype=float)
        if method == "platt":
            lr = LogisticRegression(C=1e6).fit(logit(p).reshape(-1, 1), y)
            return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return cls("isotonic", x=tuple(iso.X_thresholds_.tolist()), y=tuple(iso.y_thresholds_.tolist()))

    def apply(self, prob: Sequence[float] | np.ndarray) -> np.ndarray:
        """Recalibrated probabilities (the input unchanged for ``none``)."""
        p = np.asarray(prob, dtype=float)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.a * logit(p) + self.b)))
        if self.method == "isotonic":
            return np.interp(p, np.asarray(self.x), np.asarray(self.y))
        return p

    def to_dict(self) -> dict | None:
        """The checkpoint-meta form (None for ``none``)."""
        if self.method == "platt":
            return {"method": "platt", "a": float(self.a), "b": float(self.b)}
        if self.method == "isotonic":
            return {"method": "isotonic", "x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}
        return None

    @classmethod
    def from_dict(cls, d: dict | None) -> Recalibration:
        """Read the meta form back; None or ``{"method": "none"}`` gives the identity."""
        if not d or d.get("method", "none") == "none":
            return cls()
        if d["method"] == "platt":
            return cls("platt", a=float(d["a"]), b=float(d["b"]))
        return cls(str(d["method"]), x=tuple(float(v) for v in d.get("x", ())),
                   y=tuple(float(v) for v in d.get("y", ())))


def operating_point(meta: dict) -> dict:
    """Which operating point a checkpoint decides with, and a short ``label`` for every answer.

    A site-calibrated run (``pneumoscan calibrate``) carries its provenance in ``meta["operating_point"]``
    (``source: "site"``); any other run decides at the threshold chosen on its validation split.
    """
    recorded = meta.get("operating_point")
    if isinstance(recorded, dict) and recorded.get("source") == "site":
        out = dict(recorded)
    else:
        out = {"source": "validation", "threshold": float(meta["threshold"]), "rule": meta.get("threshold_rule")}
    out["label"] = _label(out)
    return out


def _label(op: dict) -> str:
    rule = op.get("rule") if isinstance(op.get("rule"), dict) else {}
    name = rule.get("rule")
    if name == "sensitivity" and rule.get("min_sensitivity") is not None:
        how = f"sensitivity >= {float(rule['min_sensitivity']):.2f}"
    elif name == "fixed" and rule.get("fixed_threshold") is not None:
        how = f"fixed {float(rule['fixed_threshold']):.2f}"
    elif name:
        how = str(name)
    else:
        how = f"threshold {float(op['threshold']):.3f}"
    if op.get("source") == "site":
        recal = op.get("recalibration")
        return f"site {op.get('site')} ({how}{', ' + recal if recal and recal != 'none' else ''})"
    return f"validation split ({how})"
