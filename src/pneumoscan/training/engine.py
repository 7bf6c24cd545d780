"""``train_model``: epochs x phases (train, then val), scheduler, best epoch, early stopping, resume.

Works on any module whose forward maps a batch to two logits: the full ``PneumoniaNet`` or, with
cached backbone features, just its head. Under ``torch.distributed`` (``torchrun``) the module is
wrapped in DistributedDataParallel; the train loader must then use a ``DistributedSampler``.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

MONITORS = {"auc": "max", "accuracy": "max", "loss": "min"}


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = float("nan")
    stopped_early: bool = False


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    return not is_distributed() or dist.get_rank() == 0


def run_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    desc: str = "",
    progress: bool = True,
) -> dict[str, float]:
    """One pass over ``loader``: trains when an optimizer is given, else evaluates without grad."""
    training = optimizer is not None
    model.train(training)
    total_loss, n = 0.0, 0
    labels, probs = [], []
    bar = tqdm(loader, desc=desc, leave=False, disable=not (progress and is_main_process()))
    ctx = torch.enable_grad() if training else torch.inference_mode()
    with ctx:
        for inputs, targets in bar:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            loss = criterion(logits, targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(targets)
            n += len(targets)
            labels.append(targets.detach().cpu())
            probs.append(torch.softmax(logits.detach().float(), 1)[:, 1].cpu())
            bar.set_postfix(loss=f"{total_loss / n:.4f}")
    y = torch.cat(labels).numpy()
    p = torch.cat(probs).numpy()
    out = {"loss": total_loss / max(n, 1), "accuracy": float(np.mean((p >= 0.5) == y)) if n else float("nan")}
    out["auc"] = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return out


def train_model(
    model: nn.Module,
    dataloaders: dict[str, DataLoader],
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    num_epochs: int,
    device: torch.device,
    monitor: str = "auc",
    patience: int = 0,
    state_path: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train for ``num_epochs`` (train phase then val phase each epoch) and keep the best epoch.

    Args:
        model: the module to train (already on ``device``).
        dataloaders: ``{"train": ..., "val": ...}``.
        criterion: loss on logits.
        optimizer: over the trainable parameters only.
        scheduler: stepped once per epoch (or None).
        num_epochs: the most epochs to run.
        device: where batches go.
        monitor: validation metric that picks the best epoch: ``auc``, ``accuracy`` or ``loss``.
        patience: stop after this many epochs without improvement (0 = never).
        state_path: where to save the training state after each epoch; an existing one is resumed.
        progress: show tqdm bars.

    Returns:
        ``TrainResult`` whose ``model`` holds the best epoch's weights.

    Raises:
        ValueError: unknown monitor or missing phases.
    """
    if monitor not in MONITORS:
        raise ValueError(f"Invalid monitor {monitor!r}. Only {', '.join(MONITORS)} are supported.")
    if not {"train", "val"} <= set(dataloaders):
        raise ValueError("dataloaders needs 'train' and 'val'.")
    better = (lambda a, b: a > b) if MONITORS[monitor] == "max" else (lambda a, b: a < b)
    net = model
    if is_distributed() and any(p.requires_grad for p in model.parameters()):
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    result = TrainResult(model=model)
    best_state = copy.deepcopy(model.state_dict())
    start_epoch, stale = 0, 0
    state_path = Path(state_path) if state_path else None
    if state_path and state_path.is_file():
        saved = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved.get("scheduler"):
            scheduler.load_state_dict(saved["scheduler"])
        result.history, best_state = saved["history"], saved["best_state"]
        result.best_epoch, result.best_score, stale = saved["best_epoch"], saved["best_score"], saved["stale"]
        start_epoch = len(result.history)
        log.info("resuming from %s at epoch %d", state_path, start_epoch + 1)

    gen = getattr(dataloaders["train"], "generator", None)
    base_seed = gen.initial_seed() if gen is not None else 0
    for epoch in range(start_epoch, num_epochs):
        t0 = time.perf_counter()
        _set_epoch(dataloaders["train"], epoch, base_seed)
        lr = optimizer.param_groups[0]["lr"]
        train_m = run_epoch(
            net, dataloaders["train"], criterion, device, optimizer, f"epoch {epoch + 1} train", progress
        )
        val_m = run_epoch(model, dataloaders["val"], criterion, device, None, f"epoch {epoch + 1} val", progress)
        if scheduler is not None:
            scheduler.step()
        row = {"epoch": epoch + 1, "lr": lr, "seconds": time.perf_counter() - t0}
        row.update({f"train_{k}": v for k, v in train_m.items()})
        row.update({f"val_{k}": v for k, v in val_m.items()})
        result.history.append(row)
        score = val_m[monitor]
        if result.best_epoch < 0 or (not np.isnan(score) and better(score, result.best_score)):
            result.best_epoch, result.best_score, stale = epoch + 1, score, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if is_main_process():
            log.info(
                "epoch %d/%d  train loss %.4f acc %.3f | val loss %.4f acc %.3f auc %.4f | %.1fs",
                epoch + 1,
                num_epochs,
                train_m["loss"],
                train_m["accuracy"],
                val_m["loss"],
                val_m["accuracy"],
                val_m["auc"],
                row["seconds"],
            )
        if state_path and is_main_process():
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "history": result.history,
                    "best_state": best_state,
                    "best_epoch": result.best_epoch,
                    "best_score": result.best_score,
                    "stale": stale,
                },
                state_path,
            )
        if patience and stale >= patience:
            log.info("early stopping: no %s improvement for %d epochs", monitor, patience)
            result.stopped_early = True
            break
    model.load_state_dict(best_state)
    return result


def _set_epoch(loader: DataLoader, epoch: int, base_seed: int) -> None:
    """Shuffle each epoch from ``base_seed + epoch``, so a resumed run sees the same order as an unbroken one."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    elif getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(base_seed + epoch)


def make_optimizer(
    model: nn.Module,
    name: str,
    lr: float,
    momentum: float,
    weight_decay: float,
    head: nn.Module | None = None,
    backbone_lr_scale: float = 1.0,
) -> torch.optim.Optimizer:
    """An optimizer over the trainable parameters only.

    Parameters of ``head`` learn at ``lr``; other trainable (fine-tuned backbone) parameters at
    ``lr * backbone_lr_scale``.

    Raises:
        ValueError: unknown optimizer, or nothing to train.
    """
    head_ids = {id(p) for p in head.parameters()} if head is not None else None
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("The model has no trainable parameters.")
    fast = [p for p in params if head_ids is None or id(p) in head_ids]
    slow = [p for p in params if head_ids is not None and id(p) not in head_ids]
    groups = [{"params": fast, "lr": lr}] + ([{"params": slow, "lr": lr * backbone_lr_scale}] if slow else [])
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"Invalid optimizer {name!r}. Only sgd and adamw are supported.")


def make_scheduler(optimizer: torch.optim.Optimizer, name: str, epochs: int, step_size: int, gamma: float):
    """``step`` (the paper's StepLR), ``cosine`` or ``none``.

    Raises:
        ValueError: unknown scheduler.
    """
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if name == "none":
        return None
    raise ValueError(f"Invalid scheduler {name!r}. Only step, cosine and none are supported.")


def class_weights(targets: list[int], num_classes: int = 2) -> torch.Tensor:
    """Inverse-frequency weights ``N / (C * count_c)`` for the 1:3 NORMAL:PNEUMONIA imbalance."""
    counts = np.bincount(np.asarray(targets, dtype=int), minlength=num_classes).astype(np.float64)
    counts[counts == 0] = 1.0
    return torch.tensor(len(targets) / (num_classes * counts), dtype=torch.float32)
