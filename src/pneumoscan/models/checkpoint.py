"""Save and load ``checkpoint.pt``: weights plus everything serving needs (the run folder's core).

``meta`` keys: ``backbone``, ``dropout``, ``class_names``, ``preprocessing`` (dict),
``threshold``, ``threshold_rule``, ``model_version``, ``weights_origin``, ``data_fingerprint``,
``ood`` (a ``FeatureGate`` dict or None), ``population_check`` (a ``PopulationCheck`` dict or None),
``intended_population`` (an ``IntendedPopulation`` dict), ``subtype_head`` (a ``SubtypeHead`` dict or
None), ``format_version``; an ensemble run has ``backbone: ensemble`` and ``ensemble`` (members, their
inputs, the combination: models/ensemble.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pneumoscan.models.ensemble import EnsembleNet, build_ensemble
from pneumoscan.models.net import PneumoniaNet
from pneumoscan.models.registry import build_model, file_sha256

FORMAT_VERSION = 1
REQUIRED_META = ("backbone", "class_names", "preprocessing", "threshold", "model_version")
ARRAY_META = ("ood", "population_check", "subtype_head")  # meta entries whose numpy arrays are stored as tensors


def save_checkpoint(path: str | Path, model: PneumoniaNet | EnsembleNet, meta: dict, half: bool = False) -> Path:
    """Write weights (optionally float16 to halve the file) and ``meta`` to ``path``."""
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"Checkpoint meta lacks {missing}.")
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu() for k, v in model.state_dict().items()
    }
    meta = {**meta, "format_version": FORMAT_VERSION, "weights_dtype": "float16" if half else "float32"}
    for key in ARRAY_META:
        if meta.get(key) is not None:
            meta[key] = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in meta[key].items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": state, "meta": meta}, tmp)
    tmp.replace(path)
    return path


def checkpoint_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of ``checkpoint.pt`` (``path`` is the file or its run folder): the exact weights."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    return file_sha256(path)


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[PneumoniaNet | EnsembleNet, dict]:
    """Rebuild the model (an ``EnsembleNet`` when the meta has ``ensemble``) from ``checkpoint.pt``
    (float32, eval mode) and return it with its meta.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        ValueError: the file is not a PneumoScan checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Pass a run folder written by `pneumoscan train`.")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(blob, dict) or "meta" not in blob or "state_dict" not in blob:
        raise ValueError(f"{path} is not a PneumoScan checkpoint (no meta/state_dict).")
    meta = blob["meta"]
    for key in ARRAY_META:
        if meta.get(key) is not None:
            meta[key] = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in meta[key].items()}
    if meta.get("ensemble"):
        model = build_ensemble(meta["ensemble"])
    else:
        model = build_model(meta["backbone"], weights="none", dropout=meta.get("dropout", 0.0))
    state = {
        k: v.float() if v.is_floating_point() else v
        for k, v in blob["state_dict"].items()
        if not k.startswith("cam_layer.")  # early checkpoints registered the CAM layer twice
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{path} was written for another layout of the {meta['backbone']} model (an older PneumoScan?). "
            "Retrain it with `pneumoscan train`, or load it with the version that wrote it."
        ) from exc
    model.to(map_location).eval()
    return model, meta
