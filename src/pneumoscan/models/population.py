"""Where the model works: its intended population (as data) and a check that recognises X-rays
from another population.

Two parts travel in the checkpoint meta and the model card:

- ``IntendedPopulation``: the ages and views the model was validated on (defaults from the training
  data's description, overridable in the config). A request whose patient age is known and falls
  outside it is refused before the model runs.
- ``PopulationCheck``: a logistic regression on the model's own features (every block's mean), fitted
  with the training population's X-rays as "inside" and X-rays of another population (adults,
  other hospitals) as "outside". Most uploads carry no age; this check looks at the image itself.
  Its threshold is set on held-out inside images (a small refused share), never on a test split.

The feature gate (``ood.FeatureGate``) answers a different question: is this a chest X-ray at all?
Its threshold lets familiar images through; it was not built to recognise adults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pneumoscan.models.feature_logistic import fit_standardized_logistic, logistic_score


@dataclass(frozen=True)
class IntendedPopulation:
    """The population the model was validated on.

    Attributes:
        age_min_years: youngest age in years (inclusive).
        age_max_years: oldest age in whole years (inclusive: 5 admits 5 years and 11 months).
        views: accepted view positions (DICOM ViewPosition codes).
        description: one sentence for people.
    """

    age_min_years: float
    age_max_years: float
    views: tuple[str, ...] = ("PA", "AP")
    description: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.age_min_years <= self.age_max_years:
            raise ValueError(
                "Intended population ages must satisfy 0 <= min <= max, "
                f"got {self.age_min_years}..{self.age_max_years}."
            )

    def contains_age(self, age_years: float) -> bool:
        """True when ``age_years`` lies in ``[age_min_years, age_max_years + 1)``."""
        return self.age_min_years <= age_years < self.age_max_years + 1

    def age_range_text(self) -> str:
        """``"1-5 years"`` for people."""
        lo, hi = _fmt(self.age_min_years), _fmt(self.age_max_years)
        return f"{lo}-{hi} years"

    def to_dict(self) -> dict:
        return {
            "age_min_years": float(self.age_min_years),
            "age_max_years": float(self.age_max_years),
            "views": list(self.views),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict) -> IntendedPopulation:
        return cls(
            age_min_years=float(d["age_min_years"]),
            age_max_years=float(d["age_max_years"]),
            views=tuple(str(v).upper() for v in d.get("views", ("PA", "AP"))),
            description=str(d.get("description", "")),
        )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass
class PopulationCheck:
    """P(image comes from another population) from the model's own features.

    A standardised logistic regression: ``score = sigmoid(((x - mean) / scale) @ coef + intercept)``.
    Refuse when ``score > threshold``. ``features`` names its input: ``block_means`` (the spatial
    mean of every backbone block's output, ``PneumoniaNet.features_and_block_means``) or ``pooled``.
    """

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (D,)
    intercept: float
    threshold: float
    fitted_on: list[str] = field(default_factory=list)
    held_out: list[str] = field(default_factory=list)
    target_refused_inside: float = 0.01
    features: str = "block_means"

    @classmethod
    def fit(
        cls,
        inside: np.ndarray,
        outside: np.ndarray,
        threshold_inside: np.ndarray,
        *,
        refused_inside: float = 0.01,
        c: float = 0.1,
        fitted_on: Sequence[str] = (),
        held_out: Sequence[str] = (),
        features: str = "block_means",
    ) -> PopulationCheck:
        """Fit inside vs outside features; threshold so ``refused_inside`` of ``threshold_inside`` is refused.

        Args:
            inside: features of the training population's X-rays (label 0).
            outside: features of X-rays from other populations (label 1).
            threshold_inside: features of held-out inside X-rays (not in ``inside``) for the threshold.
            refused_inside: the share of ``threshold_inside`` the threshold may refuse.
            c: inverse L2 regularisation strength (scikit-learn's ``C``).
            fitted_on, held_out: names of the sources, recorded for the model card.

        Raises:
            ValueError: too few images on a side, or ``refused_inside`` outside (0, 0.5).
        """
        inside, outside = np.asarray(inside, np.float64), np.asarray(outside, np.float64)
        if len(inside) < 5 or len(outside) < 5 or len(threshold_inside) < 5:
            raise ValueError(
                "The population check needs at least 5 inside, 5 outside and 5 held-out inside images; got "
                f"{len(inside)}, {len(outside)} and {len(threshold_inside)}."
            )
        if not 0.0 < refused_inside < 0.5:
            raise ValueError(f"refused_inside must be in (0, 0.5), got {refused_inside}.")
        x = np.concatenate([inside, outside])
        y = np.concatenate([np.zeros(len(inside)), np.ones(len(outside))])
        mean, scale, coef, intercept = fit_standardized_logistic(x, y, c)
        check = cls(
            mean=mean,
            scale=scale,
            coef=coef,
            intercept=intercept,
            threshold=0.5,
            fitted_on=list(fitted_on),
            held_out=list(held_out),
            target_refused_inside=float(refused_inside),
            features=features,
        )
        check.threshold = float(np.quantile(check.score(threshold_inside), 1.0 - refused_inside))
        return check

    def score(self, features: np.ndarray) -> np.ndarray:
        """P(outside) for each row of ``features``."""
        return logistic_score(features, self.mean, self.scale, self.coef, self.intercept)

    def outside(self, features: np.ndarray) -> np.ndarray:
        """True for rows the check refuses."""
        return self.score(features) > self.threshold

    def to_dict(self) -> dict:
        return {
            "kind": "logistic_features",
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": self.intercept,
            "threshold": self.threshold,
            "fitted_on": list(self.fitted_on),
            "held_out": list(self.held_out),
            "target_refused_inside": self.target_refused_inside,
            "features": self.features,
        }

    def summary(self) -> dict:
        """What the model card shows (no arrays)."""
        return {
            "kind": "logistic_features",
            "threshold": self.threshold,
            "fitted_on": list(self.fitted_on),
            "held_out": list(self.held_out),
            "target_refused_inside": self.target_refused_inside,
            "features": self.features,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PopulationCheck:
        return cls(
            mean=np.asarray(d["mean"], np.float32),
            scale=np.asarray(d["scale"], np.float32),
            coef=np.asarray(d["coef"], np.float32),
            intercept=float(d["intercept"]),
            threshold=float(d["threshold"]),
            fitted_on=list(d.get("fitted_on", [])),
            held_out=list(d.get("held_out", [])),
            target_refused_inside=float(d.get("target_refused_inside", 0.01)),
            features=str(d.get("features", "block_means")),
        )
