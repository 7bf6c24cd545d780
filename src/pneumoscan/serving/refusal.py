"""Refusal of images the model was not made for: cheap dedicated checks, then the feature gate.

The model was trained on frontal chest radiographs only; anything else gets a reason code and a
plain message instead of a prediction. The checks run in this order, cheapest first:

1. DICOM tags (when the upload was DICOM): modality CT/MR (``ct_or_mr``), another non-radiograph
   modality (``not_radiograph``), a body part other than the chest (``not_chest``), a lateral
   view position (``lateral_view``).
2. Pixels: a blank or constant image (``blank_image``), a colour image (``photograph``), a page
   of text or a drawing made of a few flat tones (``document``).
3. The model's own features: Mahalanobis distance of the pooled backbone features to the training
   distribution, fitted at training time and stored in the checkpoint (``out_of_distribution``).
   That gate lives in ``Predictor``; this module holds steps 1 and 2.

The pixel thresholds were set with wide margins from real chest X-rays (all 624 ``test`` images,
the 16 full-size ``val`` images and 1000 ``train`` images of the Kermany set): on those, the
grey-level standard deviation is >= 24.8 (blank rule: < 6), the colour measures are exactly 0
(photograph rule: mean chroma > 4 or > 2% strongly coloured pixels), the share of near-white
pixels is <= 0.26 (document rule: >= 0.5) and the four most common grey levels hold <= 0.30 of
the pixels (document rule: > 0.6). ``bench/refusal_rates.py`` measures the whole chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pneumoscan.data.decoding import DicomInfo

RADIOGRAPH_MODALITIES: frozenset[str] = frozenset({"CR", "DX", "DR", "RG", "OT", "PX"})
"""DICOM modalities that can hold a projection radiograph (OT: secondary capture of a film)."""
CHEST_BODY_PARTS: frozenset[str] = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS", "RIBS", "HEART"})
LATERAL_VIEWS: frozenset[str] = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "XTABLE"})

BLANK_MAX_STD: float = 6.0
BLANK_MAX_RANGE: float = 16.0
PHOTO_MIN_MEAN_CHROMA: float = 4.0
PHOTO_MIN_COLOURED_FRACTION: float = 0.02
DOCUMENT_MIN_LIGHT_FRACTION: float = 0.5
DOCUMENT_MIN_TOP4_MASS: float = 0.6
_THUMB = 256


@dataclass(frozen=True)
class Refusal:
    """Why an image gets no prediction: a stable ``reason`` code and a plain ``message``."""

    reason: str
    message: str
    detail: dict | None = None

    def to_dict(self) -> dict:
        out = {"reason": self.reason, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


class NotChestXrayError(ValueError):
    """Raised by ``Predictor`` for an image it refuses; ``refusal`` says why."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


_FIX = "Upload a frontal (PA or AP) chest radiograph."


def check_dicom_tags(info: DicomInfo | None) -> Refusal | None:
    """Refuse DICOM objects whose tags say they are not a frontal chest radiograph.

    Args:
        info: the tags from ``decode_image`` (None for PNG/JPEG: nothing to check).

    Returns:
        A ``Refusal`` or None when the tags raise no objection (absent tags raise none).
    """
    if info is None:
        return None
    modality = (info.modality or "").upper()
    if modality in ("CT", "MR"):
        return Refusal(
            "ct_or_mr",
            f"This DICOM file is a {'CT' if modality == 'CT' else 'MR'} image; the model reads only chest "
            f"radiographs (CR/DX). {_FIX}",
            {"modality": modality},
        )
    if modality and modality not in RADIOGRAPH_MODALITIES:
        return Refusal(
            "not_radiograph",
            f"This DICOM file has modality {modality}, not a radiograph (CR or DX). {_FIX}",
            {"modality": modality},
        )
    body = (info.body_part or "").upper()
    if body and body not in CHEST_BODY_PARTS:
        return Refusal(
            "not_chest",
            f"This DICOM file shows the body part {body}, not the chest. {_FIX}",
            {"body_part": body},
        )
    view = (info.view_position or "").upper()
    if view in LATERAL_VIEWS:
        return Refusal(
            "lateral_view",
            f"This is a lateral chest view (view position {view}); the model was trained on frontal views "
            f"only. {_FIX}",
            {"view_position": view},
        )
    return None


def pixel_measures(image: Image.Image) -> dict[str, float]:
    """The measures the pixel checks use, on a thumbnail of at most 256 px per side.

    Returns:
        ``std`` and ``range`` (1st-99th percentile) of the grey levels (0..255), ``mean_chroma``
        (mean of max-min over RGB), ``coloured_fraction`` (share of pixels with chroma > 40),
        ``light_fraction`` (share >= 235) and ``top4_mass`` (share of the four commonest levels).
    """
    thumb = image.copy()
    thumb.thumbnail((_THUMB, _THUMB), Image.Resampling.BILINEAR)
    gray = np.asarray(thumb.convert("L"), dtype=np.float32)
    if thumb.mode == "RGB":
        rgb = np.asarray(thumb, dtype=np.int16)
        chroma = (rgb.max(axis=-1) - rgb.min(axis=-1)).astype(np.float32)
    else:
        chroma = np.zeros_like(gray)
    hist = np.bincount(gray.astype(np.uint8).ravel(), minlength=256) / gray.size
    p1, p99 = np.percentile(gray, [1, 99])
    return {
        "std": float(gray.std()),
        "range": float(p99 - p1),
        "mean_chroma": float(chroma.mean()),
        "coloured_fraction": float((chroma > 40).mean()),
        "light_fraction": float((gray >= 235).mean()),
        "top4_mass": float(np.sort(hist)[-4:].sum()),
    }


def check_pixels(image: Image.Image) -> Refusal | None:
    """Refuse blank images, colour photographs and documents/drawings.

    Args:
        image: the decoded 8-bit image (mode ``L`` or ``RGB``).

    Returns:
        A ``Refusal`` or None.
    """
    m = pixel_measures(image)
    detail = {k: round(v, 4) for k, v in m.items()}
    if m["std"] < BLANK_MAX_STD or m["range"] < BLANK_MAX_RANGE:
        return Refusal(
            "blank_image",
            "The image is blank or nearly uniform (no anatomy visible). Check the export: "
            f"{_FIX}",
            detail,
        )
    if m["mean_chroma"] > PHOTO_MIN_MEAN_CHROMA or m["coloured_fraction"] > PHOTO_MIN_COLOURED_FRACTION:
        return Refusal(
            "photograph",
            "The image is in colour, so it is a photograph or a screenshot, not a radiograph. "
            f"{_FIX} Export it from the PACS as DICOM, PNG or JPEG rather than photographing a screen.",
            detail,
        )
    if m["light_fraction"] >= DOCUMENT_MIN_LIGHT_FRACTION or m["top4_mass"] > DOCUMENT_MIN_TOP4_MASS:
        return Refusal(
            "document",
            "The image looks like a document, a drawing or a screenshot (large flat areas of a few tones), "
            f"not a radiograph. {_FIX}",
            detail,
        )
    return None


def out_of_distribution(distance: float, threshold: float) -> Refusal:
    """The refusal for an image whose features are far from every training X-ray."""
    return Refusal(
        "out_of_distribution",
        "The image does not look like the chest X-rays the model was trained on (distance "
        f"{distance:.1f} to the training images; the limit is {threshold:.1f}). It may be another kind "
        f"of image, a lateral view, or an unusual exposure. {_FIX}",
        {"distance": round(float(distance), 3), "threshold": round(float(threshold), 3)},
    )
