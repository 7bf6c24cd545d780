"""Image and request helpers shared by the API tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from synthetic import make_xray


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def xray(seed: int, pneumonia: bool) -> Image.Image:
    """A synthetic chest X-ray like the ones the tiny run was trained on (96x96 grayscale)."""
    return make_xray(np.random.default_rng(1000 + seed), pneumonia)


def upload(data: bytes, name: str = "xray.png", field: str = "image", **form) -> dict:
    """A multipart body for the Flask test client."""
    return {field: (io.BytesIO(data), name), **form}
