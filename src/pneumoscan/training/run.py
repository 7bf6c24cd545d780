"""A whole training run: data -> model -> train_model -> threshold -> refusal gate -> test metrics,
written into a run folder that carries everything serving needs (see DESIGN.md)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from pneumoscan import CLASS_NAMES, __version__
from pneumoscan.config import DataConfig, ExperimentConfig, save_config
from pneumoscan.data.datasets import LabelledImages, load_split, load_splits
from pneumoscan.data.transforms import Preprocessing, data_transforms, eval_transform
from pneumoscan.device import select_device
from pneumoscan.evaluation import figures
from pneumoscan.evaluation.inference import member_probabilities, predict_probabilities
from pneumoscan.evaluation.metrics import evaluate_predictions
from pneumoscan.evaluation.threshold import choose_threshold
from pneumoscan.models.checkpoint import checkpoint_sha256, load_checkpoint, save_checkpoint
from pneumoscan.models.ood import FeatureGate
from pneumoscan.models.population import IntendedPopulation
from pneumoscan.models.registry import backbone_info, build_model
from pneumoscan.training.engine import (
    class_weights,
    is_distributed,
    is_main_process,
    make_optimizer,
    make_scheduler,
    train_model,
)
from pneumoscan.training.features import cached_extract_features, extract_features, feature_loader, weights_hash

log = logging.getLogger(__name__)

INTENDED_USE = (
    "Research and screening support on pediatric (1-5 years) frontal chest X-rays: flags images "
    "likely to show pneumonia for a clinician to review. Not a diagnosis and not for use without a clinician."
)
LIMITATIONS = [
    "Trained on one centre's pediatric images (Guangzhou Women and Children's Medical Center); "
    "adults, other hospitals and other devices may perform worse.",
    "Two classes only (NORMAL, PNEUMONIA); it does not tell bacterial from viral pneumonia or detect other findings.",
    "Frontal (PA/AP) views only; other images are refused when the refusal check recognises them.",
]
GATE_MAX_TRAIN = 3000  # images used to fit the refusal gate when features are not cached anyway


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _init_distributed(device: torch.device) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not is_distributed():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        log.info("distributed: rank %d of %d", dist.get_rank(), dist.get_world_size())


def _loader(ds, batch_size: int, shuffle: bool, workers: int, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    if shuffle and is_distributed():
        world = dist.get_world_size()
        sampler = DistributedSampler(ds, shuffle=True, seed=seed)
        return DataLoader(ds, batch_size=max(1, batch_size // world), sampler=sampler, num_workers=workers)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=g)


def train_run(cfg: ExperimentConfig, data: str | Path, out: str | Path, progress: bool = True,
              command: str = "", init_from: str | Path | None = None) -> Path | None:
    """Train on ``data`` with ``cfg`` and write the run folder ``out``.

    ``init_from`` (a run folder) starts from that run's weights instead of ``model.weights``: the
    head, and with ``model.unfreeze_last`` N the last N stages, train on; the new run records its
    parent (``parent_run``) in the checkpoint meta and the model card.

    Returns:
        The run folder (None on non-main ranks of a distributed run).

    Raises:
        DatasetError, FileNotFoundError, ValueError, WeightsUnavailableError: bad data or settings.
    """
    out = Path(out)
    device = select_device(cfg.train.device)
    _init_distributed(device)
    seed_everything(cfg.train.seed)
    dc, mc, tc = cfg.data, cfg.model, cfg.train
    splits = load_splits(data, dc.val_fraction, dc.min_val_size, tc.seed)
    spec = preprocessing_for(dc, mc.backbone)
    tfs = data_transforms(spec)
    log.info("train %s | val %s (%s)", splits.train.class_counts(), splits.val.class_counts(), splits.val_source)

    parent = load_parent(init_from, mc.backbone, spec) if init_from is not None else None
    model = build_model(mc.backbone, mc.weights if parent is None else "none", unfreeze_last=mc.unfreeze_last,
                        dropout=mc.dropout)
    if parent is not None:
        model.load_state_dict(parent[0].state_dict())
    model = model.to(device)
    weight = class_weights(splits.train.targets).to(device) if tc.class_weighted_loss else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    eval_tf = tfs["val"]
    workers = dc.num_workers
    train_eval = splits.train.with_transform(eval_tf)
    val_ds = splits.val.with_transform(eval_tf)
    # Without augmentation the frozen stages' output never changes: compute it once (the feature
    # cache). Frozen backbone: cached pooled features, only the head trains. Fine-tuning the last N
    # stages: cached output of the frozen stages, the last N stages and the head train on it.
    use_cache = not dc.augment and tc.cache_features
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "train_state.pt"

    if use_cache:
        frozen, target = model.frozen_part(), model.trainable_part()
        log.info("no augmentation: caching the output of %d frozen backbone stages once", len(frozen))
        plain = lambda ds: DataLoader(ds, batch_size=dc.batch_size, shuffle=False, num_workers=workers)  # noqa: E731
        describe = {"backbone": mc.backbone, "preprocessing": spec.to_dict(), "data": splits.fingerprint}
        f_tr, y_tr = cached_extract_features(frozen, plain(train_eval), train_eval.ids, describe, device,
                                             "cache train", progress)
        f_va, y_va = cached_extract_features(frozen, plain(val_ds), val_ds.ids, describe, device, "cache val",
                                             progress)
        train_feats = torch.utils.data.TensorDataset(f_tr, y_tr)
        loaders = {
            "train": _loader(train_feats, dc.batch_size, True, 0, tc.seed),
            "val": feature_loader(f_va, y_va, dc.batch_size, False, None),
        }
    else:
        train_ds = splits.train.with_transform(tfs["train"] if dc.augment else eval_tf)
        loaders = {
            "train": _loader(train_ds, dc.batch_size, True, workers, tc.seed),
            "val": DataLoader(val_ds, batch_size=dc.batch_size, shuffle=False, num_workers=workers),
        }
        target = model

    optimizer = make_optimizer(target, tc.optimizer, tc.lr, tc.momentum, tc.weight_decay, model.head,
                               tc.backbone_lr_scale)
    scheduler = make_scheduler(optimizer, tc.scheduler, tc.epochs, tc.step_size, tc.gamma)
    result = train_model(target, loaders, criterion, optimizer, scheduler, tc.epochs, device, tc.monitor,
                         tc.patience, state_path if is_main_process() else None, progress)
    if not is_main_process():
        dist.barrier()
        dist.destroy_process_group()
        return None

    model.eval()
    # Threshold and refusal gate: chosen on validation data only.
    y_va, p_va = predict_probabilities(target, loaders["val"], device, progress, "val probabilities")
    if use_cache and model.backbone_frozen:
        gate_train, gate_val = f_tr.numpy(), f_va.numpy()
    else:
        idx = np.random.default_rng(tc.seed).permutation(len(train_eval))[:GATE_MAX_TRAIN].tolist()
        gate_loader = DataLoader(train_eval.subset(idx), batch_size=dc.batch_size, num_workers=workers)
        val_loader = DataLoader(val_ds, batch_size=dc.batch_size, num_workers=workers)
        gate_train = extract_features(model.backbone, gate_loader, device, "gate train", progress)[0].numpy()
        gate_val = extract_features(model.backbone, val_loader, device, "gate val", progress)[0].numpy()
    ev = cfg.eval
    threshold = choose_threshold(y_va, p_va, ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold)
    gate = FeatureGate.fit(gate_train, gate_val, quantile=ev.ood_quantile)
    val_metrics = evaluate_predictions(y_va, p_va, threshold, n_boot=ev.bootstrap, seed=tc.seed)
    log.info("threshold %.4f (%s) on validation: sensitivity %.3f specificity %.3f", threshold, ev.threshold_rule,
             val_metrics["sensitivity"]["value"], val_metrics["specificity"]["value"])

    version = f"{mc.backbone}-{dt.date.today():%Y%m%d}-{weights_hash(model)}"
    meta = {
        "backbone": mc.backbone,
        "dropout": mc.dropout,
        "class_names": list(CLASS_NAMES),
        "preprocessing": spec.to_dict(),
        "threshold": threshold,
        "threshold_rule": threshold_rule_meta(ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold),
        "model_version": version,
        "weights_origin": (f"run {parent[1]['model_version']}" if parent is not None else
                           backbone_info(mc.backbone).weights_origin if mc.weights == "imagenet" else mc.weights),
        "data_fingerprint": splits.fingerprint,
        "ood": gate.to_dict(),
        "intended_population": intended_population(cfg).to_dict(),
        "pneumoscan_version": __version__,
    }
    if parent is not None:
        meta["parent_run"] = parent[1]
    save_checkpoint(out / "checkpoint.pt", model, meta)
    save_config(cfg, out / "config.yaml")
    _write_json(out / "history.json", result.history)
    _write_json(out / "splits.json", splits.manifest())
    fig_dir = out / "figures"
    figures.class_distribution(splits.counts(), fig_dir / "class_distribution.png")
    _sample_grid(splits.train, fig_dir / "sample_images.png", tc.seed)
    if result.history:
        figures.training_curves(result.history, fig_dir / "training_curves.png")
    figures.score_distribution(y_va, p_va, threshold, fig_dir / "score_distribution_model_selection.png",
                               f"Scores on the model-selection split (n={len(y_va)})")
    card = {
        "model_version": version,
        "architecture": f"{mc.backbone} backbone ("
                        f"{'ImageNet-pretrained' if parent is None else 'from run ' + parent[1]['model_version']}, "
                        f"{'frozen' if mc.unfreeze_last == 0 else f'last {mc.unfreeze_last} blocks fine-tuned'}) "
                        "+ linear two-class head",
        "backbone": mc.backbone,
        **card_fields(meta, spec, data, splits, gate, val_metrics),
        "training": {"best_epoch": result.best_epoch, "epochs_run": len(result.history),
                     "monitor": tc.monitor, "best_val_score": result.best_score, "command": command},
        **({"parent_run": parent[1]} if parent is not None else {}),
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_json(out / "model_card.json", card)
    _write_json(out / "metrics.json", {"model_selection": val_metrics})
    if state_path.exists():
        state_path.unlink()
    if splits.test is not None:
        evaluate_run(out, data, "test", device=device, progress=progress)
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()
    log.info("run folder written: %s", out)
    return out


def preprocessing_for(dc: DataConfig, backbone: str) -> Preprocessing:
    """The run's eval preprocessing: the data config, with the backbone's own input size and
    normalisation where the config leaves them at 0 (preprocessing belongs to the weights)."""
    try:
        info = backbone_info(backbone)
    except ValueError:  # unknown: build_model (or --init-from's check) says so, naming the valid ones
        info = None
    default = Preprocessing()
    crop = dc.image_size or (info.input_size if info else default.crop)
    resize = dc.resize or round(crop * 256 / 224)
    return Preprocessing(canonical=dc.canonical, jpeg_quality=dc.jpeg_quality, resize=resize, crop=crop,
                         mean=info.mean if info else default.mean, std=info.std if info else default.std,
                         equalize=dc.equalize)


def load_parent(run_dir: str | Path, backbone: str, spec: Preprocessing) -> tuple[nn.Module, dict]:
    """The parent run's model and its ``parent_run`` record (model_version, checkpoint sha256, path).

    Raises:
        FileNotFoundError: no checkpoint in ``run_dir``.
        ValueError: the parent has another backbone.
    """
    run_dir = Path(run_dir)
    model, meta = load_checkpoint(run_dir)
    if meta["backbone"] != backbone:
        raise ValueError(f"--init-from {run_dir} is a {meta['backbone']} run but the config asks for {backbone}. "
                         f"Drop --backbone/--config (the parent's config.yaml is the default) or pass "
                         f"--backbone {meta['backbone']}.")
    if meta["preprocessing"] != spec.to_dict():
        log.warning("the parent run %s was trained with other preprocessing (%s); this run uses %s", run_dir,
                    meta["preprocessing"], spec.to_dict())
    record = {"model_version": str(meta["model_version"]), "checkpoint_sha256": checkpoint_sha256(run_dir),
              "path": str(run_dir.resolve())}
    log.info("initialising from run %s (%s)", run_dir, record["model_version"])
    return model, record


def threshold_rule_meta(rule: str, min_sensitivity: float, fixed_threshold: float) -> dict:
    """The checkpoint's ``threshold_rule``: the rule and the one setting it used (nothing it ignored)."""
    if rule == "fixed":
        return {"rule": "fixed", "fixed_threshold": float(fixed_threshold)}
    if rule == "youden":
        return {"rule": "youden"}
    return {"rule": rule, "min_sensitivity": float(min_sensitivity)}


def evaluate_run(run_dir: str | Path, data: str | Path, split: str = "test", device: torch.device | None = None,
                 progress: bool = True, batch_size: int = 32, n_boot: int = 1000) -> dict:
    """Re-measure a trained run on one split; rewrites ``metrics.json``, the model card and the figures.

    Returns:
        The metrics dict for that split.
    """
    run_dir = Path(run_dir)
    device = device or select_device("auto")
    model, meta = load_checkpoint(run_dir, map_location=device)
    spec = Preprocessing.from_dict(meta["preprocessing"])
    ds: LabelledImages = load_split(data, split).with_transform(eval_transform(spec))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=min(2, os.cpu_count() or 1))
    members = (meta.get("ensemble") or {}).get("members")
    if members:
        y, p, each = member_probabilities(model, loader, device, progress, f"evaluate {split}")
    else:
        y, p = predict_probabilities(model, loader, device, progress, f"evaluate {split}")
    metrics = evaluate_predictions(y, p, meta["threshold"], n_boot=n_boot)
    metrics["counts"] = ds.class_counts()
    if members:  # each member at its own validation threshold, beside the ensemble
        metrics["members"] = {m["backbone"]: evaluate_predictions(y, each[:, i], m["threshold"], n_boot=n_boot)
                              for i, m in enumerate(members)}
    fig_dir = run_dir / "figures"
    suffix = "" if split == "test" else f"_{split}"
    figures.confusion_matrix_figure(metrics["confusion_matrix"], fig_dir / f"confusion_matrix{suffix}.png",
                                    f"Confusion matrix ({split}, n={len(y)})")
    if len(np.unique(y)) == 2:
        figures.roc_figure(y, p, metrics["auc"], meta["threshold"], fig_dir / f"roc_curve{suffix}.png")
    figures.score_distribution(y, p, meta["threshold"], fig_dir / f"score_distribution{suffix}.png",
                               f"Scores on {split} (n={len(y)})")
    pick = np.random.default_rng(0).permutation(len(ds))[:36]
    grid_name = "test_predictions.png" if split == "test" else f"predictions_{split}.png"
    figures.prediction_grid([ds[int(i)][0] for i in pick], y[pick], p[pick], meta["threshold"], spec.mean,
                            spec.std, fig_dir / grid_name)
    metrics_path, card_path = run_dir / "metrics.json", run_dir / "model_card.json"
    all_metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    all_metrics[split] = metrics
    _write_json(metrics_path, all_metrics)
    if card_path.exists():
        card = json.loads(card_path.read_text())
        card.setdefault("metrics", {})[split] = _summary(metrics)
        if members:
            card["metrics"][f"{split}_members"] = {k: _summary(v) for k, v in metrics["members"].items()}
        card.setdefault("evaluated_on", {})[split] = {"source": Path(data).name, "n": int(len(y))}
        _write_json(card_path, card)
    return metrics


def card_fields(meta: dict, spec: Preprocessing, data: str | Path, splits, gate, val_metrics: dict) -> dict:
    """The model card's entries that every run writes the same way, single model or ensemble."""
    return {
        "weights_origin": meta["weights_origin"],
        "class_names": list(CLASS_NAMES),
        "threshold": meta["threshold"],
        "threshold_rule": meta["threshold_rule"],
        "preprocessing": spec.to_dict(),
        "training_data": {
            "source": Path(data).name,
            "fingerprint": splits.fingerprint,
            "val_source": splits.val_source,
            "counts": splits.counts(),
        },
        "refusal_gate": {"kind": "mahalanobis_pca", "threshold": gate.threshold, "quantile": gate.quantile},
        "intended_population": meta["intended_population"],
        "metrics": {"model_selection": _summary(val_metrics)},
    }


def _summary(m: dict) -> dict:
    keep = ("n", "threshold", "confusion_matrix", "accuracy", "auc", "sensitivity", "specificity", "precision",
            "npv", "f1")
    return {k: m[k] for k in keep if k in m}


def _sample_grid(ds: LabelledImages, path: Path, seed: int) -> None:
    pick = np.random.default_rng(seed).permutation(len(ds))[:36]
    images = [np.asarray(ds.load_image(int(i)).convert("L")) for i in pick]
    figures.image_grid(images, [CLASS_NAMES[ds.targets[int(i)]] for i in pick], path,
                       suptitle="Sample training images")


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")


def intended_population(cfg: ExperimentConfig) -> IntendedPopulation:
    """The run's intended population from the config's ``population`` section."""
    pc = cfg.population
    views = tuple(v.strip().upper() for v in pc.views.split(",") if v.strip())
    return IntendedPopulation(pc.age_min_years, pc.age_max_years, views, pc.description)
