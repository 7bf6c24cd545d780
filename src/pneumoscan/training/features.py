"""Backbone feature cache: with a frozen backbone and no augmentation, features never change, so
compute them once and train only the head on them (same result, far less time)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm


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
