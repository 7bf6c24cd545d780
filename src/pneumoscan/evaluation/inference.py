"""Probabilities of pneumonia for a whole split (under ``torch.inference_mode``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


@torch.inference_mode()
def predict_probabilities(
    model: nn.Module, loader: DataLoader, device: torch.device, progress: bool = True, desc: str = "predict"
) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(labels, prob_pneumonia)`` for every item of ``loader``."""
    model.eval()
    labels, probs = [], []
    for inputs, targets in tqdm(loader, desc=desc, leave=False, disable=not progress):
        logits = model(inputs.to(device))
        probs.append(torch.softmax(logits.float(), 1)[:, 1].cpu())
        labels.append(torch.as_tensor(targets))
    return torch.cat(labels).numpy(), torch.cat(probs).numpy()
