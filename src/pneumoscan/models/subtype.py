"""Kind of pneumonia: a second head that says whether a pneumonia looks bacterial or viral.

Kermany et al. (2018) name their files ``person<N>_bacteria_<M>.jpeg`` and ``person<N>_virus_<M>.jpeg``
inside ``PNEUMONIA/``; that name is the only subtype label this project has. ``subtype_label`` reads
it and returns None for everything else (NORMAL images, PneumoniaMNIST, external sources, other
names): those images have no subtype and are skipped, never guessed.

``SubtypeHead`` is a standardised logistic regression on the run's own features of one forward
pass (the pooled features or every block's mean, as the population check), giving P(viral) among
pneumonias. It travels in the checkpoint meta (``subtype_head``) with its threshold (chosen on the
validation split) and its test metrics; serving applies it only when the answer is pneumonia.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

from pneumoscan.models.feature_logistic import FEATURE_KINDS, fit_standardized_logistic, logistic_score

SUBTYPES: tuple[str, str] = ("bacterial", "viral")  # label 0, label 1 (P(viral) is the head's output)
_KERMANY_NAME = re.compile(r"^person\d+_(bacteria|virus)_\d+", re.IGNORECASE)
_NAME_TO_SUBTYPE = {"bacteria": "bacterial", "virus": "viral"}
WORDING = "supports, does not replace, clinical judgement"


def subtype_label(path: str | PurePath, label: str | None = None) -> str | None:
    """``"bacterial"`` or ``"viral"`` from a Kermany file name, else None (no label, never a guess).

    Args:
        path: the image's path or file name (``train/PNEUMONIA/person12_virus_44.jpeg``).
        label: the image's class when known (from the split list); anything but ``PNEUMONIA`` has no
            subtype. When None, the parent folder must be ``PNEUMONIA``, if the path has one.

    Example:
        >>> subtype_label("test/PNEUMONIA/person1_virus_6.jpeg")
        'viral'
        >>> subtype_label("test/NORMAL/IM-0001-0001.jpeg") is None
        True
    """
    p = PurePath(path)
    cls = label if label is not None else (p.parent.name or "PNEUMONIA")
    if cls.upper() != "PNEUMONIA":
        return None
    m = _KERMANY_NAME.match(p.name)
    return _NAME_TO_SUBTYPE[m.group(1).lower()] if m else None


def sentence(pattern: str, p_viral: float, threshold: float, test_accuracy: float | None) -> str:
    """The line that the result, the report and the PDF show under a pneumonia answer.

    It quotes P(viral) and the head's cut-off rather than a per-pattern probability, so an answer
    just below the cut-off never reads "bacterial (p = 0.46)".
    """
    right = (f"; this head was right on {100 * test_accuracy:.0f}% of test images"
             if test_accuracy is not None and np.isfinite(test_accuracy) else "")
    return (f"Pattern more like {pattern} pneumonia (P(viral) = {p_viral:.2f}, viral from {threshold:.2f}){right}; "
            f"{WORDING}.")


@dataclass
class SubtypeHead:
    """P(viral) among pneumonias from the model's own features.

    ``p = sigmoid(((x - mean) / scale) @ coef + intercept)``; ``viral`` when ``p >= threshold``.
    The pattern's probability shown to people is ``p`` for viral and ``1 - p`` for bacterial.

    Attributes:
        features: its input, ``pooled`` (the head's features) or ``block_means``.
        c: the inverse regularisation chosen on validation.
        metrics: ``{"validation": ..., "test": ...}`` as ``evaluation.metrics.evaluate_predictions``
            returns them (positive class: viral), for the model card.
        fitted_on: counts of the images it was fitted, tuned and tested on.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5
    features: str = "pooled"
    c: float = 1.0
    metrics: dict = field(default_factory=dict)
    fitted_on: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.features not in FEATURE_KINDS:
            raise ValueError(
                f"Invalid subtype features {self.features!r}. Only {', '.join(FEATURE_KINDS)} are supported."
            )

    @classmethod
    def fit(cls, x: np.ndarray, viral: np.ndarray, *, c: float = 1.0, features: str = "pooled") -> SubtypeHead:
        """Fit on features ``x`` (N, D) with labels ``viral`` (1 viral, 0 bacterial); classes balanced.

        Raises:
            ValueError: fewer than 5 images of either subtype.
        """
        y = np.asarray(viral).astype(int)
        counts = [int((y == k).sum()) for k in (0, 1)]
        if min(counts) < 5:
            raise ValueError(f"The subtype head needs at least 5 bacterial and 5 viral pneumonia images; "
                             f"got {counts[0]} and {counts[1]}. Is the data named like Kermany's "
                             "(person*_bacteria_*, person*_virus_*)?")
        mean, scale, coef, intercept = fit_standardized_logistic(x, y, c)
        return cls(mean=mean, scale=scale, coef=coef, intercept=intercept, features=features, c=float(c))

    def p_viral(self, x: np.ndarray) -> np.ndarray:
        """P(viral) for each row of ``x``."""
        return logistic_score(x, self.mean, self.scale, self.coef, self.intercept)

    @property
    def test_accuracy(self) -> float | None:
        """Accuracy on the test split's pneumonia images (None when not measured)."""
        acc = (self.metrics.get("test") or {}).get("accuracy")
        return float(acc["value"]) if acc else None

    def describe(self, p_viral: float) -> dict:
        """The served field for one pneumonia answer."""
        viral = p_viral >= self.threshold
        pattern, prob = ("viral", float(p_viral)) if viral else ("bacterial", 1.0 - float(p_viral))
        return {
            "pattern": pattern,
            "probability": round(prob, 4),
            "head_test_accuracy": self.test_accuracy,
            "wording": sentence(pattern, float(p_viral), self.threshold, self.test_accuracy),
        }

    def summary(self) -> dict:
        """What the model card shows (no arrays)."""
        return {
            "kind": "logistic_features",
            "output": "P(viral) among pneumonias; bacterial below the threshold",
            "features": self.features,
            "c": self.c,
            "threshold": self.threshold,
            "fitted_on": dict(self.fitted_on),
            "metrics": self.metrics,
            "wording": WORDING,
        }

    def to_dict(self) -> dict:
        return {**self.summary(), "mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> SubtypeHead:
        return cls(
            mean=np.asarray(d["mean"], np.float32),
            scale=np.asarray(d["scale"], np.float32),
            coef=np.asarray(d["coef"], np.float32),
            intercept=float(d["intercept"]),
            threshold=float(d.get("threshold", 0.5)),
            features=str(d.get("features", "pooled")),
            c=float(d.get("c", 1.0)),
            metrics=dict(d.get("metrics") or {}),
            fitted_on=dict(d.get("fitted_on") or {}),
        )
