"""Heatmaps over the backbone's last convolutional block: CAM where it is exact, else Grad-CAM.

For a head that is linear on the globally average-pooled last block (EfficientNet-Lite0 and
ResNet-50 here), the class activation map (CAM, Zhou et al. 2016) is the head's weights applied to
the last block's activations: ``sum_k w[c, k] A_k``. Grad-CAM's channel weights are then exactly
``w[c, k] / (H W)``, so the two maps are equal after the min-max scaling (tested against the
library). CAM needs no backward pass: it comes from the serving pass's own activations
(``class_activation_maps``). Other heads (the paper's VGG16 keeps its non-linear fc6/fc7) use
Grad-CAM through the ``grad-cam`` library (``grad_cam``).

The backbone was frozen in training, so none of its parameters require gradients and the target
layer's activations would carry none; Grad-CAM is therefore given an input tensor that requires a
gradient, so every activation after it does too. Nothing is trained and no parameter is changed.

The CAM is computed on the model's input (the eval transform's centre crop of the squashed image)
and mapped back onto the decoded X-ray at its own aspect ratio: the crop covers the central
``crop / resize`` of each axis of the squashed square, i.e. the same central share of the original.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from pneumoscan.data.transforms import Preprocessing

OVERLAY_MAX_SIDE: int = 512
"""Longest side of the overlay PNG: the web app's preview size. The map itself is the last block's
7x7 grid, so a larger overlay adds only X-ray pixels, at a cost: at 1024 px and Pillow's default
zlib level, encoding the PNG alone took many times the whole plain answer (0.8 s against ~50 ms on
the busy 2-core machine); 512 px at level 1 takes ~14 ms (``bench/serve_latency.py``)."""
PNG_COMPRESS_LEVEL: int = 1
"""zlib level of the overlay PNG: lossless either way; level 1 encodes ~5x faster than Pillow's
default 6 for a ~15% larger file (an X-ray's noise hardly compresses)."""


def grad_cam(
    model: nn.Module,
    target_layer: nn.Module,
    batch: torch.Tensor,
    target_classes: Sequence[int],
) -> tuple[np.ndarray, torch.Tensor]:
    """Grad-CAM maps for a batch, and the logits of the same forward pass.

    Not thread-safe (it hooks ``target_layer``): callers hold the predictor's model lock.

    Args:
        model: the classifier (eval mode); may have every parameter frozen.
        target_layer: the module whose activations are weighted (the last conv block).
        batch: the preprocessed input, shape (B, 3, H, W).
        target_classes: the class index to explain for each image.

    Returns:
        ``(cams, logits)``: cams of shape (B, H, W) in [0, 1]; logits (B, num_classes), detached.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = [ClassifierOutputTarget(int(c)) for c in target_classes]
    cam = GradCAM(model=model, target_layers=[target_layer])
    with torch.enable_grad(), cam:
        # Frozen backbone: no parameter needs a gradient, so the input must, or the target
        # layer's activations would carry none.
        inputs = batch.detach().clone().requires_grad_(True)
        maps = cam(input_tensor=inputs, targets=targets)
        logits = cam.outputs.detach()
    model.zero_grad(set_to_none=True)
    return np.nan_to_num(np.asarray(maps, dtype=np.float32)), logits


def _is_global_average_pool(module: nn.Module) -> bool:
    """True for modules that only average over space and/or flatten (timm's avg pool included)."""
    if isinstance(module, nn.Flatten | nn.Identity):
        return True
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return module.output_size in (1, (1, 1))
    if type(module).__name__ == "FastAdaptiveAvgPool":  # timm, always global
        return True
    if getattr(module, "pool_type", None) == "avg" or isinstance(module, nn.Sequential):
        return all(_is_global_average_pool(m) for m in module.children())
    return False


def linear_cam_weights(model: nn.Module) -> np.ndarray | None:
    """The head's weight matrix (classes, channels) when CAM is exact for ``model``, else None.

    Exact when the backbone's stages after the CAM layer only average-pool and flatten, and the head
    is a linear layer (after dropout, an identity in eval mode). For an ensemble: its CAM member's
    (the map shows where that member looked).
    """
    model = getattr(model, "cam_member", model)
    backbone, head, layer = getattr(model, "backbone", None), getattr(model, "head", None), None
    try:
        layer = model.cam_layer
    except AttributeError:
        return None
    if not isinstance(backbone, nn.Sequential) or not isinstance(head, nn.Sequential):
        return None
    stages = list(backbone)
    after = next((stages[i + 1 :] for i, s in enumerate(stages) if s is layer), None)
    if after is None or not all(_is_global_average_pool(m) for m in after):
        return None
    *pre, last = list(head)
    if not isinstance(last, nn.Linear) or not all(isinstance(m, nn.Dropout | nn.Identity) for m in pre):
        return None
    return last.weight.detach().float().cpu().numpy().copy()


def class_activation_maps(
    last: np.ndarray, weights: np.ndarray, target_classes: Sequence[int], size: tuple[int, int]
) -> np.ndarray:
    """CAMs from the last block's activations, scaled exactly as the ``grad-cam`` library scales its maps.

    Args:
        last: the CAM layer's activations, (B, C, h, w).
        weights: the linear head's weights, (classes, C) (from ``linear_cam_weights``).
        target_classes: the class to explain for each image.
        size: the (width, height) of the model input the map is resized to.

    Returns:
        (B, height, width) float32 maps in [0, 1]: ReLU, min-max, bilinear resize, min-max.
    """
    import cv2

    chosen = weights[np.asarray(target_classes, dtype=np.int64)]  # (B, C)
    raw = np.einsum("bchw,bc->bhw", last.astype(np.float32), chosen.astype(np.float32))
    out = []
    for cam in np.maximum(raw, 0):
        cam = cam - cam.min()
        cam = cv2.resize(np.float32(cam / (1e-7 + cam.max())), size)
        cam = np.maximum(cam, 0)
        cam = cam - cam.min()
        out.append(cam / (1e-7 + cam.max()))
    return np.nan_to_num(np.asarray(out, dtype=np.float32))


def cam_on_original(cam: np.ndarray, size: tuple[int, int], spec: Preprocessing) -> np.ndarray:
    """Place a CAM computed on the model's centre crop onto the original image's frame.

    Args:
        cam: (crop, crop) map in [0, 1].
        size: the original image's (width, height).
        spec: the eval preprocessing that produced the crop.

    Returns:
        A (height, width) float32 map in [0, 1]; 0 outside the cropped region.
    """
    width, height = size
    frac = min(1.0, spec.crop / spec.resize) if spec.resize else 1.0
    crop_w, crop_h = max(1, round(width * frac)), max(1, round(height * frac))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    resized = Image.fromarray(np.clip(cam, 0, 1).astype(np.float32), mode="F").resize(
        (crop_w, crop_h), Image.Resampling.BILINEAR
    )
    full = np.zeros((height, width), dtype=np.float32)
    full[top : top + crop_h, left : left + crop_w] = np.clip(np.asarray(resized), 0, 1)
    return full


def overlay_png(
    image: Image.Image, cam: np.ndarray, spec: Preprocessing, max_side: int = OVERLAY_MAX_SIDE
) -> bytes:
    """Colour the CAM over the X-ray (jet colour map, 40% heat) and encode it as PNG.

    Args:
        image: the decoded X-ray (any mode).
        cam: the (crop, crop) map from ``class_activation_maps`` or ``grad_cam``.
        spec: the eval preprocessing (to map the crop back).
        max_side: the overlay's longest side in pixels.

    Returns:
        PNG bytes of an RGB image with the X-ray's aspect ratio.
    """
    from pytorch_grad_cam.utils.image import show_cam_on_image

    base = image if image.mode in ("L", "RGB") else image.convert("RGB")
    if max(base.size) > max_side:  # shrink first, on the one channel of a grayscale film
        base = base.copy()
        base.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)  # antialiased; 3x cheaper than LANCZOS
    mask = cam_on_original(cam, base.size, spec)
    rgb = np.asarray(base.convert("RGB"), dtype=np.float32) / 255.0
    blended = show_cam_on_image(rgb, mask, use_rgb=True, image_weight=0.6)
    buf = io.BytesIO()
    Image.fromarray(blended, mode="RGB").save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()
