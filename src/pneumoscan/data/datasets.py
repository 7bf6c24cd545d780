"""Labelled image datasets: ImageFolder splits and PneumoniaMNIST ``.npz`` files, in one shape.

Each split is a ``LabelledImages``: ``targets`` (class index per item), ``ids`` (file path relative
to the dataset root, or ``npz:<split>:<index>``), ``load_image(i)`` (the raw PIL image) and
``__getitem__`` returning ``(tensor, label)`` through the split's transform.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import ImageFolder

from pneumoscan import CLASS_NAMES
from pneumoscan.data.layout import IMAGE_EXTENSIONS, check_dataset, is_hidden
from pneumoscan.data.patients import grouped_split, patient_id

log = logging.getLogger(__name__)


class LabelledImages(Dataset):
    """A list of images with labels, read lazily, transformed on access."""

    def __init__(
        self,
        ids: Sequence[str],
        targets: Sequence[int],
        loader: Callable[[int], Image.Image],
        transform: Callable | None = None,
    ):
        self.ids = list(ids)
        self.targets = [int(t) for t in targets]
        self._loader = loader
        self.transform = transform
        self.classes = list(CLASS_NAMES)

    def __len__(self) -> int:
        return len(self.ids)

    def load_image(self, i: int) -> Image.Image:
        return self._loader(i)

    def __getitem__(self, i: int):
        image = self.load_image(i)
        return (self.transform(image) if self.transform else image), self.targets[i]

    def subset(self, indices: Sequence[int], transform: Callable | None = None) -> LabelledImages:
        """A view on some items, optionally with another transform."""
        idx = list(indices)
        return LabelledImages(
            [self.ids[i] for i in idx],
            [self.targets[i] for i in idx],
            lambda j: self._loader(idx[j]),
            transform if transform is not None else self.transform,
        )

    def with_transform(self, transform: Callable | None) -> LabelledImages:
        return LabelledImages(self.ids, self.targets, self._loader, transform)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.targets, dtype=int), minlength=len(CLASS_NAMES))
        return {name: int(c) for name, c in zip(CLASS_NAMES, counts)}


def image_folder(split_dir: Path, root: Path) -> LabelledImages:
    """Read one split with torchvision's ImageFolder (classes must be exactly NORMAL/PNEUMONIA)."""
    folder = ImageFolder(
        str(split_dir),
        is_valid_file=lambda p: Path(p).suffix.lower() in IMAGE_EXTENSIONS and not is_hidden(Path(p)),
    )
    if folder.classes != list(CLASS_NAMES):
        raise ValueError(f"{split_dir} has classes {folder.classes}; expected {list(CLASS_NAMES)}.")
    paths = [p for p, _ in folder.samples]
    ids = [Path(p).relative_to(root).as_posix() for p in paths]
    return LabelledImages(ids, folder.targets, lambda i: folder.loader(paths[i]))


def npz_split(npz: dict[str, np.ndarray], split: str) -> LabelledImages:
    """One split of a PneumoniaMNIST-style ``.npz`` (uint8 images N x H x W, labels N x 1, 1 = pneumonia)."""
    images = npz[f"{split}_images"]
    labels = np.asarray(npz[f"{split}_labels"]).reshape(-1).astype(int)
    return LabelledImages(
        [f"npz:{split}:{i}" for i in range(len(labels))],
        labels.tolist(),
        lambda i: Image.fromarray(images[i]).convert("L"),
    )


@dataclass
class DatasetSplits:
    """The three splits plus where the validation split came from."""

    train: LabelledImages
    val: LabelledImages
    test: LabelledImages | None
    val_source: str  # "val folder", "carved from train (grouped by patient)" or "npz val"
    fingerprint: str

    def counts(self) -> dict[str, dict[str, int]]:
        out = {"train": self.train.class_counts(), "val": self.val.class_counts()}
        if self.test is not None:
            out["test"] = self.test.class_counts()
        return out

    def manifest(self) -> dict:
        """Which file went to which split (``splits.json`` in the run folder)."""
        out = {"val_source": self.val_source, "fingerprint": self.fingerprint}
        for name in ("train", "val", "test"):
            split = getattr(self, name)
            if split is not None:
                out[name] = [{"id": i, "label": CLASS_NAMES[t]} for i, t in zip(split.ids, split.targets)]
        return out


def load_splits(
    source: str | Path,
    val_fraction: float = 0.1,
    min_val_size: int = 100,
    seed: int = 42,
    check: bool = True,
) -> DatasetSplits:
    """Load a dataset folder or ``.npz`` file as train/val/test splits.

    When the folder's ``val/`` holds fewer than ``min_val_size`` images (the Kaggle one has 16),
    ``val_fraction`` of ``train/`` becomes the validation split, grouped by patient and stratified
    by class; the original small ``val/`` is then not used for model selection.

    Raises:
        DatasetError: the folder layout is broken (every problem listed).
        FileNotFoundError: the path does not exist.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(
            f"Dataset {source} does not exist. Pass a folder with train/ val/ test/ or a .npz file."
        )
    if source.is_file():
        return _load_npz(source)
    if check:
        report = check_dataset(source, verify_images=False)
        report.raise_if_bad()
    train = image_folder(source / "train", source)
    test = image_folder(source / "test", source) if (source / "test").is_dir() else None
    val_dir = source / "val"
    val = image_folder(val_dir, source) if val_dir.is_dir() else None
    fingerprint = _folder_fingerprint(source, train.ids)
    if val is not None and len(val) >= min_val_size:
        return DatasetSplits(train, val, test, "val folder", fingerprint)
    log.info(
        "val/ has %s images (< %d): carving %.0f%% of train/ as validation, grouped by patient",
        0 if val is None else len(val),
        min_val_size,
        val_fraction * 100,
    )
    groups = [patient_id(i) for i in train.ids]
    tr_idx, va_idx = grouped_split(train.targets, groups, val_fraction, seed)
    return DatasetSplits(
        train.subset(tr_idx), train.subset(va_idx), test, "carved from train (grouped by patient)", fingerprint
    )


def _load_npz(path: Path) -> DatasetSplits:
    try:
        data = dict(np.load(path))
    except Exception as exc:  # numpy raises several types for a bad file
        raise ValueError(f"Cannot read {path} as a .npz file ({exc}). Pass a PneumoniaMNIST-style .npz.") from exc
    missing = [k for s in ("train", "val") for k in (f"{s}_images", f"{s}_labels") if k not in data]
    if missing:
        raise ValueError(f"{path} lacks the keys {missing}; expected train_/val_/test_ images and labels.")
    test = npz_split(data, "test") if "test_images" in data else None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return DatasetSplits(npz_split(data, "train"), npz_split(data, "val"), test, "npz val", f"sha256:{digest}")


def _folder_fingerprint(root: Path, train_ids: Sequence[str]) -> str:
    """SHA-256 over the training files' relative paths and bytes: which data trained a model."""
    h = hashlib.sha256()
    for rel in sorted(train_ids):
        h.update(rel.encode())
        h.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return f"sha256:{h.hexdigest()}"


def load_split(source: str | Path, split: str) -> LabelledImages:
    """One split of a dataset folder (``<source>/<split>/``) or ``.npz`` file, for evaluation.

    Raises:
        FileNotFoundError: the split does not exist.
    """
    source = Path(source)
    if source.is_file():
        data = dict(np.load(source))
        if f"{split}_images" not in data:
            raise FileNotFoundError(
                f"{source} has no {split}_images; splits there: "
                f"{sorted(k[:-7] for k in data if k.endswith('_images'))}."
            )
        return npz_split(data, split)
    split_dir = source / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"No {split}/ folder in {source}. Pass --split train, val or test.")
    return image_folder(split_dir, source)
