"""Backbone feature cache: with a frozen backbone and no augmentation, features never change, so
compute them once and train only the head on them (same result, far less time)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

CACHE_ENV = "PNEUMOSCAN_FEATURE_CACHE"  # a folder: frozen-stage outputs are kept there across runs


@torch.inference_mode()
def extract_features(
    backbone: nn.Module, loader: DataLoader, device: torch.device, desc: str = "features", progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the (eval-mode) backbone over ``loader``; returns ``(features, labels)`` on the CPU."""
    backbone.eval()
    feats, labels = [], []
    for inputs, targets in tqdm(loader, desc=desc, leave=False, disable=not progress):
        feats.append(backbone(inputs.to(device)).float().cpu())
        labels.append(torch.as_tensor(targets))
    return torch.cat(feats), torch.cat(labels)


def feature_loader(
    features: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool, generator: torch.Generator | None
) -> DataLoader:
    """A loader over cached features that batches and shuffles like the image loader it replaces."""
    return DataLoader(TensorDataset(features, labels), batch_size=batch_size, shuffle=shuffle, generator=generator)


def weights_hash(model: nn.Module) -> str:
    """First 10 hex digits of the SHA-256 of a module's state (names and float32 values)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:10]


def cached_extract_features(
    frozen: nn.Module, loader: DataLoader, ids: Sequence[str], describe: dict, device: torch.device,
    desc: str = "features", progress: bool = True, cache_dir: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``extract_features``, kept on disk in ``cache_dir`` (default: $PNEUMOSCAN_FEATURE_CACHE; unset = no cache).

    The file is keyed by the frozen stages' weights, ``describe`` (preprocessing, data fingerprint)
    and the item ids in order, so another backbone, preprocessing or split never reads it.
    """
    cache_dir = cache_dir or os.environ.get(CACHE_ENV)
    if not cache_dir:
        return extract_features(frozen, loader, device, desc, progress)
    h = hashlib.sha256(json.dumps({**describe, "weights": weights_hash(frozen), "ids": list(ids)},
                                  sort_keys=True, default=str).encode())
    path = Path(cache_dir) / f"{h.hexdigest()[:24]}.pt"
    if path.is_file():
        log.info("%s: cached features from %s", desc, path)
        feats, labels = torch.load(path, weights_only=True)
        return feats, labels
    feats, labels = extract_features(frozen, loader, device, desc, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save((feats, labels), tmp)
    tmp.replace(path)
    return feats, labels
