"""Pick the compute device: CUDA if present, else Apple MPS, else CPU (paper section III.D)."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

_VALID = ("auto", "cpu", "cuda", "mps")


def select_device(requested: str | None = "auto") -> torch.device:
    """Return the device to compute on and log the choice.

    Args:
        requested: ``"auto"`` (or None) picks CUDA, then MPS, then CPU; otherwise a torch device
            string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Raises:
        ValueError: the name is unknown or the device is not available on this machine.
    """
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            device = torch.device("cuda")
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = torch.device("mps")
        else:
            device = torch.device("cpu")
        log.info("device: %s (auto-selected)", device)
        return device
    kind = name.split(":", 1)[0]
    if kind not in _VALID:
        raise ValueError(f"Unknown device {requested!r}. Use one of: auto, cpu, cuda, cuda:N, mps.")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {requested!r} was asked for but CUDA is not available here; use --device cpu.")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"Device {requested!r} was asked for but Apple MPS is not available; use --device cpu.")
    device = torch.device(name)
    log.info("device: %s (requested)", device)
    return device
