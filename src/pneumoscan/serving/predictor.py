"""``Predictor``: a run folder's checkpoint, loaded once, turned into predictions.

Everything comes from the checkpoint: the eval preprocessing, the class names, the threshold and
the refusal gate fitted at training time. Nothing is re-typed here.

- ``predict(image)`` / ``predict_batch(images)``: the model's answer (one forward pass per batch),
  with a heatmap on request. No refusal: what ``pneumoscan predict`` prints.
- ``screen(decoded)`` / ``screen_batch(decodeds)``: the same, behind the refusal chain (DICOM tags,
  the patient's age against the intended population, pixel checks, then the feature gate and the
  population check on the model's own features); raises ``NotChestXrayError`` for an image the
  model was not made for. What the API serves.

One forward pass per batch serves everything: ``serving.runtime`` (ONNX Runtime by default) returns
the pooled features (feature gate), the block means (population check), the logits (the answer),
either of the first two for the subtype head (bacterial or viral, under a pneumonia answer only)
and the last block's activations (the heatmap, as CAM for a linear head, ``serving.heatmap``).
Only a head for which CAM is not exact (the paper's VGG16) takes a second, Grad-CAM pass.

Thread-safe: the model runs under one lock (Grad-CAM hooks the model, and on a CPU two forward
passes at once only compete for the same cores). Several images passed together share one forward
pass, and so do images that several threads submit at the same moment (``serving.batching``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pneumoscan.data.decoding import DecodedImage, DicomInfo
from pneumoscan.data.transforms import Preprocessing, eval_tensor
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.models.feature_logistic import pick_features
from pneumoscan.models.ood import FeatureGate
from pneumoscan.models.population import IntendedPopulation, PopulationCheck
from pneumoscan.models.recalibration import Recalibration
from pneumoscan.models.subtype import SubtypeHead
from pneumoscan.serving.batching import Coalescer
from pneumoscan.serving.heatmap import class_activation_maps, grad_cam, linear_cam_weights, overlay_png
from pneumoscan.serving.population import age_from_dicom, check_age, image_outside
from pneumoscan.serving.refusal import (
    NotChestXrayError,
    Refusal,
    check_dicom_tags,
    check_pixels,
    out_of_distribution,
)
from pneumoscan.serving.runtime import OnnxRuntime, Runtime, make_runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image.

    Attributes:
        label: ``class_names[1]`` (PNEUMONIA) when ``probability >= threshold``, else ``class_names[0]``.
        probability: probability of pneumonia (softmax of the two logits).
        threshold: the decision threshold from the checkpoint.
        model_version: the checkpoint's version string.
        ood_distance: distance of the image's features to the training data (None without a gate).
        population_score: the population check's P(another population) (None without a check).
        heatmap_png: heatmap overlay PNG (CAM, or Grad-CAM for a non-linear head), when asked for.
        heatmap_class: the class the heatmap explains (the predicted label).
        subtype: for a pneumonia answer of a run with a subtype head, the pattern it looks more like
            (``{"pattern": "bacterial"|"viral", "probability", "head_test_accuracy", "wording"}``,
            ``SubtypeHead.describe``); None otherwise.
    """

    label: str
    probability: float
    threshold: float
    model_version: str
    ood_distance: float | None = None
    population_score: float | None = None
    heatmap_png: bytes | None = field(default=None, repr=False)
    heatmap_class: str | None = None
    subtype: dict | None = None

    def to_dict(self) -> dict:
        """The JSON fields of the API contract (no heatmap bytes)."""
        return {
            "label": self.label,
            "probability": self.probability,
            "threshold": self.threshold,
            "model_version": self.model_version,
            "subtype": self.subtype,
        }


class Predictor:
    """Probabilities of pneumonia from a trained run folder.

    Example:
        >>> predictor = Predictor.from_run("runs/default")
        >>> predictor.predict(Image.open("samples/x.jpeg")).label

    Args:
        model: the trained ``PneumoniaNet`` (``.backbone``, ``.head``, ``.cam_layer``).
        meta: the checkpoint's meta (preprocessing, class_names, threshold, model_version, ood).
        device: where the model runs.
        run_dir: the run folder it came from (for the model card and figures).
        max_batch: most images per merged forward pass when threads call at the same time.
        runtime: ``onnx`` or ``torch`` (``serving.runtime``; default ``PNEUMOSCAN_RUNTIME``, else ONNX
            Runtime where installed). A model of another layout runs eagerly with hooks.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        meta: dict,
        device: torch.device | str = "cpu",
        run_dir: str | Path | None = None,
        max_batch: int = 16,
        runtime: str | None = None,
    ):
        self.model = model.eval()
        self.meta = meta
        self.device = torch.device(device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.preprocessing = Preprocessing.from_dict(meta["preprocessing"])
        self.class_names: list[str] = list(meta["class_names"])
        self.threshold = float(meta["threshold"])
        self.recalibration = Recalibration.from_dict(meta.get("recalibration"))
        self.model_version: str = str(meta["model_version"])
        self.gate: FeatureGate | None = FeatureGate.from_dict(meta["ood"]) if meta.get("ood") else None
        self.population: IntendedPopulation | None = (
            IntendedPopulation.from_dict(meta["intended_population"]) if meta.get("intended_population") else None
        )
        self.population_check: PopulationCheck | None = (
            PopulationCheck.from_dict(meta["population_check"]) if meta.get("population_check") else None
        )
        self.subtype_head: SubtypeHead | None = (
            SubtypeHead.from_dict(meta["subtype_head"]) if meta.get("subtype_head") else None
        )
        if self.gate is None:
            log.warning("checkpoint %s has no refusal gate: only the dedicated checks refuse images",
                        self.model_version)
        self._lock = threading.Lock()
        self._coalescer = Coalescer(self._inference, max_rows=max_batch)
        self.runtime: Runtime | None = make_runtime(self.model, runtime, self.device, self.preprocessing.crop)
        self.cam_weights: np.ndarray | None = linear_cam_weights(self.model)

    def use_cores(self, n: int) -> None:
        """Give the model ``n`` cores: ONNX Runtime's session gets them and PyTorch keeps one thread
        (its pool then only stalled the request path's small tensor ops on a busy machine); the eager
        runtime gets them as PyTorch threads. Call before the first pass (``warm_up``)."""
        if isinstance(self.runtime, OnnxRuntime):
            self.runtime.threads = max(1, int(n))
            torch.set_num_threads(1)
        else:
            torch.set_num_threads(max(1, int(n)))

    def warm_up(self) -> None:
        """Run one pass now (creates the runtime's session), so the first request does not pay for it."""
        self._inference(torch.zeros(1, 3, self.preprocessing.crop, self.preprocessing.crop))

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu", runtime: str | None = None) -> Predictor:
        """Load ``run_dir/checkpoint.pt`` once.

        Raises:
            FileNotFoundError: the folder has no checkpoint.
            ValueError: the file is not a PneumoScan checkpoint.
        """
        model, meta = load_checkpoint(run_dir, map_location=device)
        run = Path(run_dir)
        return cls(model, meta, device, run_dir=run if run.is_dir() else run.parent, runtime=runtime)

    # ------------------------------------------------------------------------------------- model

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The checkpoint's eval transform applied to each image, stacked into one batch."""
        return torch.from_numpy(np.stack([eval_tensor(im, self.preprocessing).numpy() for im in images]))

    def _inference(
        self, batch: torch.Tensor
    ) -> tuple[np.ndarray | None, torch.Tensor, np.ndarray | None, np.ndarray | None]:
        """Pooled features, logits, block means and last-block activations of one (possibly merged)
        batch, from one pass under the model lock (the eager fallback gives no activations)."""
        if self.runtime is not None:
            with self._lock:
                out = self.runtime.run(batch)
            return out.features, torch.from_numpy(out.logits), out.block_means, out.last
        model = self.model
        has_parts = hasattr(model, "backbone") and hasattr(model, "head")
        want_means = has_parts and any(
            part is not None and part.features == "block_means" for part in (self.population_check, self.subtype_head)
        )
        means = None
        with self._lock, torch.inference_mode():
            x = batch.to(self.device)
            if want_means:
                feats, means = model.features_and_block_means(x)
            else:
                feats = model.backbone(x) if has_parts else None
            logits = model.head(feats) if has_parts else model(x)
        as_np = lambda t: None if t is None else t.float().cpu().numpy()  # noqa: E731
        return as_np(feats), logits.float().cpu(), as_np(means), None

    def _forward(
        self, batch: torch.Tensor
    ) -> tuple[np.ndarray | None, torch.Tensor, np.ndarray | None, np.ndarray | None]:
        """Pooled features, logits, block means and last-block activations for a batch.

        The batch goes through the coalescer: batches that other threads submit at the same time
        share the forward pass.
        """
        return self._coalescer.submit(batch)

    def _heatmaps(self, batch: torch.Tensor, last: np.ndarray | None, targets: Sequence[int]) -> np.ndarray:
        """(B, crop, crop) maps: CAM from the pass's own activations when exact, else Grad-CAM.

        Grad-CAM runs alone under the model lock (it hooks the model).
        """
        if self.cam_weights is not None and last is not None:
            return class_activation_maps(last, self.cam_weights, targets, (batch.shape[-1], batch.shape[-2]))
        with self._lock:
            cams, _ = grad_cam(self.model, self.model.cam_layer, batch.to(self.device), targets)
        return cams

    def _probabilities(self, logits: torch.Tensor) -> list[float]:
        """P(pneumonia) from the logits, through the site's recalibration when the run has one."""
        return self.recalibration.apply(torch.softmax(logits, 1)[:, 1].numpy()).tolist()

    def probabilities(self, images: Sequence[Image.Image]) -> list[float]:
        """Probability of PNEUMONIA for each image, in one batch."""
        _, logits, _, _ = self._forward(self.preprocess(images))
        return self._probabilities(logits)

    def _predictions(
        self, images: Sequence[Image.Image]
    ) -> tuple[list[Prediction], torch.Tensor, np.ndarray | None]:
        """Predictions without heatmaps, the preprocessed batch and the last block's activations
        (both for ``_add_heatmaps``)."""
        batch = self.preprocess(images)
        feats, logits, means, last = self._forward(batch)
        probs = self._probabilities(logits)
        distances = self.gate.distance(feats) if (self.gate is not None and feats is not None) else None
        pop, head = self.population_check, self.subtype_head
        pop_input = None if pop is None else pick_features(pop.features, feats, means)
        pop_scores = None if pop_input is None else pop.score(pop_input)
        head_input = None if head is None else pick_features(head.features, feats, means)
        p_viral = None if head_input is None else head.p_viral(head_input)
        preds = [
            Prediction(
                label=self.class_names[int(p >= self.threshold)],
                probability=float(p),
                threshold=self.threshold,
                model_version=self.model_version,
                ood_distance=None if distances is None else float(distances[i]),
                population_score=None if pop_scores is None else float(pop_scores[i]),
                subtype=(self.subtype_head.describe(float(p_viral[i]))
                         if p_viral is not None and p >= self.threshold else None),
            )
            for i, p in enumerate(probs)
        ]
        return preds, batch, last

    def _add_heatmaps(
        self,
        images: Sequence[Image.Image],
        batch: torch.Tensor,
        preds: Sequence[Prediction],
        last: np.ndarray | None = None,
    ) -> list[Prediction]:
        """The heatmap of each image's predicted class, as an overlay PNG on the image."""
        targets = [self.class_names.index(p.label) for p in preds]
        cams = self._heatmaps(batch, last, targets)
        return [
            replace(pred, heatmap_png=overlay_png(image, cams[i], self.preprocessing), heatmap_class=pred.label)
            for i, (image, pred) in enumerate(zip(images, preds))
        ]

    def predict_batch(self, images: Sequence[Image.Image], heatmap: bool = False) -> list[Prediction]:
        """Predict several images in one forward pass (no refusal checks).

        Args:
            images: decoded PIL images (any size or mode).
            heatmap: also compute a heatmap overlay PNG for each (CAM; Grad-CAM for a non-linear head).

        Returns:
            One ``Prediction`` per image, in order.
        """
        if not images:
            return []
        preds, batch, last = self._predictions(images)
        return self._add_heatmaps(images, batch, preds, last) if heatmap else preds

    def predict(self, image: Image.Image, heatmap: bool = False) -> Prediction:
        """Predict one image (no refusal checks); see ``predict_batch``."""
        return self.predict_batch([image], heatmap=heatmap)[0]

    # --------------------------------------------------------------------------------- refusals

    def check(
        self, image: Image.Image, dicom: DicomInfo | None = None, age_years: float | None = None
    ) -> Refusal | None:
        """The cheap checks only (DICOM tags, the age rule, then pixels); no model run.

        Args:
            image: the decoded image.
            dicom: its DICOM tags, if any.
            age_years: the patient's age when the request states it; otherwise the DICOM tags' age
                (``PatientAge``, or birth date with study date) is used when present.
        """
        if age_years is not None:
            age, source = age_years, "the request"
        else:
            age, source = age_from_dicom(dicom), "the DICOM tags"
        return check_dicom_tags(dicom) or check_age(age, self.population, source) or check_pixels(image)

    def screen_batch(
        self,
        decoded: Sequence[DecodedImage],
        heatmap: bool = False,
        ages: Sequence[float | None] | None = None,
    ) -> list[Prediction | Refusal]:
        """Refuse what the model was not made for; predict the rest in one forward pass.

        Args:
            decoded: images from ``pneumoscan.data.decoding.decode_image``.
            heatmap: compute a heatmap overlay for each accepted image.
            ages: the patient's age in years for each image when known (None entries: unknown, the
                DICOM tags are consulted).

        Returns:
            For each input, a ``Prediction`` or the ``Refusal`` that stopped it.
        """
        ages = list(ages) if ages is not None else [None] * len(decoded)
        if len(ages) != len(decoded):
            raise ValueError(f"ages has {len(ages)} entries for {len(decoded)} images.")
        results: list[Prediction | Refusal | None] = [
            self.check(d.image, d.dicom, age) for d, age in zip(decoded, ages)
        ]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            preds, batch, last = self._predictions([decoded[i].image for i in todo])
            accepted: list[int] = []  # positions within ``todo``
            for j, (i, pred) in enumerate(zip(todo, preds)):
                gate = self.gate
                pop = self.population_check
                if gate is not None and pred.ood_distance is not None and pred.ood_distance > gate.threshold:
                    results[i] = out_of_distribution(pred.ood_distance, gate.threshold)
                elif pop is not None and pred.population_score is not None and pred.population_score > pop.threshold:
                    results[i] = image_outside(pred.population_score, pop.threshold, self.population)
                else:
                    results[i] = pred
                    accepted.append(j)
            if heatmap and accepted:
                images = [decoded[todo[j]].image for j in accepted]
                with_maps = self._add_heatmaps(
                    images, batch[accepted], [preds[j] for j in accepted], None if last is None else last[accepted]
                )
                for j, pred in zip(accepted, with_maps):
                    results[todo[j]] = pred
        return [r for r in results if r is not None]

    def screen(self, decoded: DecodedImage, heatmap: bool = False, age_years: float | None = None) -> Prediction:
        """Predict one decoded upload, or refuse it (``age_years``: the patient's age when known).

        Raises:
            NotChestXrayError: the image is not a frontal chest X-ray, or is outside the intended
                population (``.refusal`` says why).
        """
        result = self.screen_batch([decoded], heatmap=heatmap, ages=[age_years])[0]
        if isinstance(result, Refusal):
            raise NotChestXrayError(result)
        return result
