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


@torch.inference_mode()
def member_probabilities(model: nn.Module, loader: DataLoader, device: torch.device,
                         progress: bool = True, desc: str = "predict") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For an ``EnsembleNet``: ``(labels, combined P(pneumonia), members' P(pneumonia) (n, members))``,
    one pass per batch."""
    model.eval()
    labels, combined, each = [], [], []
    for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
        logits = model.member_logits(x.to(device))
        combined.append(torch.softmax(model.combine_logits(logits), 1)[:, 1].cpu())
        each.append(torch.stack([torch.softmax(lg.float(), 1)[:, 1] for lg in logits], 1).cpu())
        labels.append(torch.as_tensor(y))
    return torch.cat(labels).numpy(), torch.cat(combined).numpy(), torch.cat(each).numpy()
