"""``Predictor``: a run folder's checkpoint, loaded once, turned into predictions.

Everything comes from the checkpoint: the eval preprocessing, the class names, the threshold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from pneumoscan.data.transforms import Preprocessing, eval_transform
from pneumoscan.models.checkpoint import load_checkpoint


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float  # probability of PNEUMONIA
    threshold: float
    model_version: str

    def to_dict(self) -> dict:
        return {"label": self.label, "probability": self.probability, "threshold": self.threshold,
                "model_version": self.model_version}


class Predictor:
    """Probabilities of pneumonia from a trained run folder.

    Example:
        >>> predictor = Predictor.from_run("runs/default")
        >>> predictor.predict(Image.open("samples/x.jpeg")).label
    """

    def __init__(self, model: torch.nn.Module, meta: dict, device: torch.device | str = "cpu"):
        self.model = model.eval()
        self.meta = meta
        self.device = torch.device(device)
        self.preprocessing = Preprocessing.from_dict(meta["preprocessing"])
        self.transform = eval_transform(self.preprocessing)
        self.class_names: list[str] = list(meta["class_names"])
        self.threshold = float(meta["threshold"])
        self.model_version: str = meta["model_version"]
        self._lock = threading.Lock()

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Predictor:
        model, meta = load_checkpoint(run_dir, map_location=device)
        return cls(model, meta, device)

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self.transform(im) for im in images])

    def probabilities(self, images: Sequence[Image.Image]) -> list[float]:
        """Probability of PNEUMONIA for each image, in one batch."""
        batch = self.preprocess(images).to(self.device)
        with self._lock, torch.inference_mode():
            logits = self.model(batch)
        return torch.softmax(logits.float(), 1)[:, 1].cpu().tolist()

    def predict_batch(self, images: Sequence[Image.Image]) -> list[Prediction]:
        return [
            Prediction(self.class_names[int(p >= self.threshold)], float(p), self.threshold, self.model_version)
            for p in self.probabilities(images)
        ]

    def predict(self, image: Image.Image) -> Prediction:
        return self.predict_batch([image])[0]
