"""Image preprocessing (paper section III.E/F): eval and train transforms built from one spec.

The eval spec travels inside the checkpoint, so serving rebuilds exactly what training used.

Aspect ratio: the shared training copy of the Kermany data was squashed to 224x224 squares, while
real uploads keep their original aspect ratio. The eval transform therefore first *squashes* every
image to a ``canonical`` square (the same operation that produced the training copy), then applies
the paper's resize 256 + center crop 224. A squashed copy and its original-aspect source then give
nearly the same tensor (tested in tests/data/test_transforms.py).

Resolution and compression: that copy was also saved as JPEG at about quality 75, which removes
fine detail and adds block artefacts that full-size uploads lack. With ``jpeg_quality`` set, the
squashed image is JPEG-encoded and decoded once more, so an upload reaches the model (and the
refusal gate, which works on the model's features) looking like the images it learned from.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Everything the eval transform needs; saved in the checkpoint as a dict."""

    canonical: int = 224  # squash to this square first (0 = skip), like the training copy
    jpeg_quality: int = 0  # then JPEG-encode/decode at this quality (0 = skip), like the training copy
    resize: int = 256  # the paper's Resize(256) ...
    crop: int = 224  # ... and CenterCrop(224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    equalize: str = "none"  # none | clahe | hist: contrast equalisation after the squash (see Equalize)

    def __post_init__(self) -> None:
        if self.equalize not in EQUALIZERS:
            raise ValueError(f"equalize must be one of {', '.join(EQUALIZERS)}, got {self.equalize!r}.")

    def to_dict(self) -> dict:
        """The checkpoint's dict; ``equalize`` only when set, so older runs' dicts stay as they were."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if d["equalize"] == "none":
            del d["equalize"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"Unknown preprocessing keys {sorted(unknown)}; expected {sorted(cls.__dataclass_fields__)}."
            )
        d = dict(d)
        for key in ("mean", "std"):
            if key in d:
                d[key] = tuple(float(x) for x in d[key])
        return cls(**d)


def to_rgb(image: Image.Image) -> Image.Image:
    """Grayscale (8/16-bit), palette or RGBA images become 8-bit, 3-channel RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        image = Image.fromarray(arr.astype("uint8"), mode="L")
    return image.convert("RGB")


EQUALIZERS = ("none", "clahe", "hist")


class Equalize:
    """Contrast equalisation of the grey levels (scikit-image), to narrow differences between machines.

    ``clahe``: contrast-limited adaptive histogram equalisation (8x8 tiles, clip 0.01, scikit-image's
    defaults); ``hist``: global histogram equalisation. Works on the luminance; returns mode ``L``.
    """

    def __init__(self, kind: str):
        if kind not in EQUALIZERS[1:]:
            raise ValueError(f"Equalize kind must be clahe or hist, got {kind!r}.")
        self.kind = kind

    def __call__(self, image: Image.Image) -> Image.Image:
        from skimage import exposure

        grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        out = exposure.equalize_adapthist(grey) if self.kind == "clahe" else exposure.equalize_hist(grey)
        return Image.fromarray(np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8), mode="L")

    def __repr__(self) -> str:
        return f"Equalize({self.kind!r})"


class JpegRoundTrip:
    """Encode as JPEG at ``quality`` and decode again (a picklable transform for DataLoader workers)."""

    def __init__(self, quality: int):
        if not 1 <= quality <= 95:
            raise ValueError(f"jpeg_quality must be between 1 and 95 (or 0 to skip), got {quality}.")
        self.quality = quality

    def __call__(self, image: Image.Image) -> Image.Image:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=self.quality)
        buf.seek(0)
        return Image.open(buf).convert(image.mode)

    def __repr__(self) -> str:
        return f"JpegRoundTrip(quality={self.quality})"


def _squash(spec: Preprocessing) -> list:
    steps = [T.Resize((spec.canonical, spec.canonical), antialias=True)] if spec.canonical else []
    steps += [JpegRoundTrip(spec.jpeg_quality)] if spec.jpeg_quality else []
    return steps + ([Equalize(spec.equalize), T.Lambda(to_rgb)] if spec.equalize != "none" else [])


def eval_transform(spec: Preprocessing) -> T.Compose:
    """Squash to ``canonical`` square (+ JPEG round trip) -> resize ``resize`` -> center crop ``crop`` -> normalise."""
    return T.Compose(
        [
            T.Lambda(to_rgb),
            *_squash(spec),
            T.Resize((spec.resize, spec.resize), antialias=True),
            T.CenterCrop(spec.crop),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )


def eval_tensor(image: Image.Image, spec: Preprocessing) -> torch.Tensor:
    """``eval_transform(spec)(image)``, bit for bit, at a third of the cost for grayscale X-rays.

    A grayscale image goes through the same chain (squash, JPEG round trip, resize, centre crop) on
    its one channel, and the channel is copied to three only at the end: resizing works per channel,
    and a JPEG of three equal channels decodes to the same grey levels as the JPEG of one (tested).

    Args:
        image: a decoded image (mode ``L`` or ``RGB``; other modes go through ``to_rgb`` first).
        spec: the checkpoint's eval preprocessing.

    Returns:
        A (3, crop, crop) float32 tensor.
    """
    if spec.crop > spec.resize:  # torchvision pads; not worth a second implementation
        return eval_transform(spec)(image)
    im = image if image.mode in ("L", "RGB") else to_rgb(image)
    if spec.canonical:
        im = im.resize((spec.canonical, spec.canonical), Image.Resampling.BILINEAR)
    if spec.jpeg_quality:
        im = JpegRoundTrip(spec.jpeg_quality)(im)
    if spec.equalize != "none":
        im = Equalize(spec.equalize)(im)
    im = im.resize((spec.resize, spec.resize), Image.Resampling.BILINEAR)
    top = int(round((spec.resize - spec.crop) / 2.0))  # torchvision's CenterCrop offsets
    im = im.crop((top, top, top + spec.crop, top + spec.crop))
    # numpy, not torch: the same float32 arithmetic without waking PyTorch's thread pool, which
    # stalled small ops for tens of ms on a busy machine (bench/serve_latency.py)
    pixels = np.asarray(im, dtype=np.float32) / np.float32(255)
    chw = np.broadcast_to(pixels, (3, *pixels.shape)) if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(3, 1, 1)
    return torch.from_numpy(np.ascontiguousarray((chw - mean) / std))


def train_transform(spec: Preprocessing) -> T.Compose:
    """The eval pipeline plus augmentation that keeps clinical meaning.

    Small rotations, scale and shift mimic patient positioning; brightness/contrast mimic exposure.
    No vertical flips (a chest is never upside down) and no horizontal flips either: a mirrored
    film puts the heart on the right (dextrocardia), anatomy the model should never be taught
    as normal, and side markers become mirrored text.
    """
    return T.Compose(
        [
            T.Lambda(to_rgb),
            *_squash(spec),
            T.Resize((spec.resize, spec.resize), antialias=True),
            T.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1)),
            T.ColorJitter(brightness=0.2, contrast=0.2),
            T.CenterCrop(spec.crop),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )


def data_transforms(spec: Preprocessing | None = None) -> dict[str, T.Compose]:
    """The paper's ``data_transforms`` dict: ``train`` (augmented), ``val`` and ``test`` (eval)."""
    spec = spec or Preprocessing()
    ev = eval_transform(spec)
    return {"train": train_transform(spec), "val": ev, "test": ev}
