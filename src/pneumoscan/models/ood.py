"""Out-of-distribution gate on the model's own pooled features (Mahalanobis distance).

Fitted at training time on the training split's features; its threshold is a high quantile of
the *validation* split's distances, so about ``1 - quantile`` of real chest X-rays like the
validation ones are refused. Stored in the checkpoint; serving only scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA


@dataclass
class FeatureGate:
    """Mahalanobis distance to the training features, in a PCA subspace of at most ``max_dims``."""

    mean: np.ndarray  # (D,) feature mean
    components: np.ndarray  # (K, D) PCA directions
    precision: np.ndarray  # (K, K) inverse covariance (Ledoit-Wolf shrinkage) in the subspace
    threshold: float  # refuse when distance > threshold
    quantile: float

    @classmethod
    def fit(
        cls, train_features: np.ndarray, val_features: np.ndarray, quantile: float = 0.995, max_dims: int = 256
    ) -> FeatureGate:
        """Fit on training features; set the threshold at ``quantile`` of the validation distances.

        Raises:
            ValueError: fewer than 3 training samples or a quantile outside (0, 1).
        """
        if len(train_features) < 3:
            raise ValueError("The refusal gate needs at least 3 training images to fit.")
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
        x = np.asarray(train_features, dtype=np.float64)
        k = int(min(max_dims, x.shape[1], len(x) - 1))
        pca = PCA(n_components=k, random_state=0).fit(x)
        z = pca.transform(x)
        cov = LedoitWolf().fit(z)
        gate = cls(
            mean=pca.mean_.astype(np.float32),
            components=pca.components_.astype(np.float32),
            precision=cov.precision_.astype(np.float32),
            threshold=float("inf"),
            quantile=quantile,
        )
        gate.threshold = float(np.quantile(gate.distance(val_features), quantile))
        return gate

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row to the training distribution."""
        z = (np.asarray(features, dtype=np.float32) - self.mean) @ self.components.T
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.precision, z), 0.0))

    def accepts(self, features: np.ndarray) -> np.ndarray:
        return self.distance(features) <= self.threshold

    def to_dict(self) -> dict:
        return {
            "kind": "mahalanobis_pca",
            "mean": self.mean,
            "components": self.components,
            "precision": self.precision,
            "threshold": self.threshold,
            "quantile": self.quantile,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FeatureGate:
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float32),
            components=np.asarray(d["components"], dtype=np.float32),
            precision=np.asarray(d["precision"], dtype=np.float32),
            threshold=float(d["threshold"]),
            quantile=float(d["quantile"]),
        )
