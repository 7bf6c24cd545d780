"""Synthetic chest-X-ray-like images for tests (no real data needed).

A grey body with two dark lungs; "pneumonia" images get bright opacities inside a lung.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_xray(rng: np.random.Generator, pneumonia: bool, width: int = 96, height: int = 96) -> Image.Image:
    yy, xx = np.mgrid[0:height, 0:width]
    u, v = xx / width, yy / height
    img = 0.55 + 0.1 * rng.standard_normal() * 0.2 + 0.0 * u
    body = np.exp(-(((u - 0.5) / 0.42) ** 2 + ((v - 0.55) / 0.55) ** 2) ** 2)
    img = img * body
    for cx in (0.32, 0.68):
        lung = ((u - cx) / 0.13) ** 2 + ((v - 0.5) / 0.3) ** 2 < 1
        img = np.where(lung, img * 0.35, img)
    if pneumonia:
        cx = rng.choice([0.32, 0.68]) + rng.uniform(-0.04, 0.04)
        cy = rng.uniform(0.4, 0.65)
        blob = np.exp(-(((u - cx) / 0.08) ** 2 + ((v - cy) / 0.1) ** 2))
        img = img + 0.55 * blob
    img = img + 0.03 * rng.standard_normal(img.shape)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), mode="L")


def write_dataset(root: Path, counts: dict[str, int], seed: int = 0, size: int = 96) -> Path:
    """Write ``root/<split>/<CLASS>/*.png`` with Kermany-style patient file names.

    Args:
        counts: images per class for each split, e.g. ``{"train": 24, "val": 6, "test": 6}``.
    """
    rng = np.random.default_rng(seed)
    patient = 0
    for split, n in counts.items():
        for cls in ("NORMAL", "PNEUMONIA"):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                patient += 1
                # two images per patient in train, so grouping matters
                pid = patient // 2 if split == "train" else patient
                name = f"IM-{pid:04d}-{i:04d}.png" if cls == "NORMAL" else f"person{pid}_bacteria_{i}.png"
                make_xray(rng, cls == "PNEUMONIA", size, size).save(d / name)
    return root
