"""An ensemble run: several frozen-backbone probes trained on cached features, combined, and
written as ONE run folder (one ``checkpoint.pt`` holding every member) that loads as one model.

Members, their thresholds and the combination are chosen on the validation split only.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn
from torch.utils.data import DataLoader

from pneumoscan import CLASS_NAMES, __version__
from pneumoscan.config import DataConfig, ExperimentConfig, save_config
from pneumoscan.data.datasets import load_splits
from pneumoscan.data.transforms import Preprocessing, eval_transform
from pneumoscan.device import select_device
from pneumoscan.evaluation import figures
from pneumoscan.evaluation.metrics import evaluate_predictions
from pneumoscan.evaluation.threshold import choose_threshold
from pneumoscan.models.checkpoint import save_checkpoint
from pneumoscan.models.ensemble import EnsembleNet, MemberInput, ensemble_meta
from pneumoscan.models.net import PneumoniaNet
from pneumoscan.models.ood import FeatureGate
from pneumoscan.models.registry import backbone_info, build_model
from pneumoscan.training.engine import class_weights, make_optimizer, make_scheduler, train_model
from pneumoscan.training.features import cached_extract_features, feature_loader, weights_hash
from pneumoscan.training.run import (
    INTENDED_USE,
    LIMITATIONS,
    _summary,
    _write_json,
    card_fields,
    evaluate_run,
    intended_population,
    seed_everything,
    threshold_rule_meta,
)

log = logging.getLogger(__name__)

UNNORMALISED = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def ensemble_preprocessing(dc: DataConfig) -> Preprocessing:
    """The image every member starts from: the data config's squash, resize and crop (224 / 256 by
    default, the shipped model's), left unnormalised; each member resizes and normalises it in the graph."""
    crop = dc.image_size or 224
    resize = dc.resize or round(crop * 256 / 224)
    return Preprocessing(canonical=dc.canonical, jpeg_quality=dc.jpeg_quality, resize=resize, crop=crop,
                         mean=UNNORMALISED[0], std=UNNORMALISED[1], equalize=dc.equalize)


def build_member(name: str, cfg: ExperimentConfig, spec: Preprocessing,
                 device: torch.device) -> tuple[PneumoniaNet, MemberInput]:
    """A member with its ImageNet (or configured) weights and its input adapter: its own input size
    (unless ``data.image_size`` fixes one for all) and normalisation."""
    info = backbone_info(name)
    member = build_model(name, cfg.model.weights, unfreeze_last=0, dropout=cfg.model.dropout).to(device)
    size = spec.crop if cfg.data.image_size else info.input_size
    return member, MemberInput(size, info.mean, info.std).to(device)


def fit_stack(member_odds: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    """Logistic regression of the label on the members' log-odds (n, members): ``(coef, intercept)``."""
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(member_odds, y)
    return [float(c) for c in lr.coef_[0]], float(lr.intercept_[0])


def crossfit_stack(member_odds: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each validation image's stacked probability from a stack fitted on the other folds: an honest
    validation score for the stack, which is otherwise fitted and measured on the same images."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(LogisticRegression(C=1.0, max_iter=1000), member_odds, y, cv=cv,
                             method="predict_proba")[:, 1]


def train_ensemble_run(cfg: ExperimentConfig, data: str | Path, out: str | Path, progress: bool = True,
                       command: str = "") -> Path:
    """Train every member of ``cfg.ensemble`` as a frozen probe, combine them, write the run folder ``out``.

    Raises:
        ValueError: fewer than two members, an unknown backbone or combination, or settings an
            ensemble does not support (fine-tuning, augmentation).
    """
    ec, dc, mc, tc, ev = cfg.ensemble, cfg.data, cfg.model, cfg.train, cfg.eval
    names = ec.member_names()
    if len(names) < 2:
        raise ValueError(f"An ensemble needs at least two members; ensemble.members is {ec.members!r}.")
    for name in names:
        backbone_info(name)  # raises on an unknown name, listing the valid ones
    if mc.unfreeze_last or dc.augment:
        raise ValueError("Ensemble members are frozen probes on cached features: set model.unfreeze_last=0 "
                         "and data.augment=false.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = select_device(tc.device)
    seed_everything(tc.seed)
    splits = load_splits(data, dc.val_fraction, dc.min_val_size, tc.seed)
    spec = ensemble_preprocessing(dc)
    tf = eval_transform(spec)
    train_ds, val_ds = splits.train.with_transform(tf), splits.val.with_transform(tf)
    plain = lambda ds: DataLoader(ds, batch_size=dc.batch_size, shuffle=False, num_workers=dc.num_workers)  # noqa: E731
    weight = class_weights(splits.train.targets).to(device) if tc.class_weighted_loss else None

    members, inputs, histories, rows = [], [], {}, []
    feats_tr, feats_va, logits_va = [], [], []
    for name in names:
        seed_everything(tc.seed)
        member, adapt = build_member(name, cfg, spec, device)
        frozen = nn.Sequential(adapt, member.backbone)
        describe = {"backbone": name, "ensemble_input": spec.to_dict(), "data": splits.fingerprint}
        f_tr, y_tr = cached_extract_features(frozen, plain(train_ds), train_ds.ids, describe, device,
                                             f"{name} train", progress)
        f_va, y_va = cached_extract_features(frozen, plain(val_ds), val_ds.ids, describe, device, f"{name} val",
                                             progress)
        g = torch.Generator().manual_seed(tc.seed)
        loaders = {"train": feature_loader(f_tr, y_tr, dc.batch_size, True, g),
                   "val": feature_loader(f_va, y_va, dc.batch_size, False, None)}
        optimizer = make_optimizer(member.head, tc.optimizer, tc.lr, tc.momentum, tc.weight_decay, member.head)
        scheduler = make_scheduler(optimizer, tc.scheduler, tc.epochs, tc.step_size, tc.gamma)
        result = train_model(member.head, loaders, nn.CrossEntropyLoss(weight=weight), optimizer, scheduler,
                             tc.epochs, device, tc.monitor, tc.patience, None, progress)
        member.eval()
        with torch.inference_mode():
            lg = member.head(f_va.to(device)).float().cpu()
        y_va_np, p_va = y_va.numpy(), torch.softmax(lg, 1)[:, 1].numpy()
        threshold = choose_threshold(y_va_np, p_va, ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold)
        m = evaluate_predictions(y_va_np, p_va, threshold, n_boot=ev.bootstrap, seed=tc.seed)
        log.info("member %s: validation AUC %.4f, accuracy %.3f at its own threshold %.4f (best epoch %d)",
                 name, m["auc"]["value"], m["accuracy"]["value"], threshold, result.best_epoch)
        members.append(member)
        inputs.append(adapt)
        histories[name] = result.history
        rows.append({"backbone": name, "threshold": threshold, "best_epoch": result.best_epoch,
                     "model_selection": _summary(m)})
        feats_tr.append(f_tr.numpy())
        feats_va.append(f_va.numpy())
        logits_va.append(lg)

    y_va = np.asarray(splits.val.targets)
    member_odds = np.stack([(lg[:, 1] - lg[:, 0]).double().numpy() for lg in logits_va], 1)
    coef, intercept = fit_stack(member_odds, y_va) if ec.combine == "stack" else (None, None)
    model = EnsembleNet(members, inputs, names, ec.combine, coef, intercept).eval()
    p_va = torch.softmax(model.combine_logits(logits_va), 1)[:, 1].numpy()
    threshold = choose_threshold(y_va, p_va, ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold)
    gate = FeatureGate.fit(np.concatenate(feats_tr, 1), np.concatenate(feats_va, 1), quantile=ev.ood_quantile)
    val_metrics = evaluate_predictions(y_va, p_va, threshold, n_boot=ev.bootstrap, seed=tc.seed)
    extra = {}
    if ec.combine == "stack":
        p_cv = crossfit_stack(member_odds, y_va, seed=tc.seed)
        cv_threshold = choose_threshold(y_va, p_cv, ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold)
        extra["model_selection_crossfit"] = evaluate_predictions(y_va, p_cv, cv_threshold, n_boot=ev.bootstrap,
                                                                 seed=tc.seed)
        log.info("stack cross-fitted on validation (5 folds): AUC %.4f",
                 extra["model_selection_crossfit"]["auc"]["value"])
    log.info("ensemble (%s of %s): validation AUC %.4f, sensitivity %.3f, specificity %.3f at %.4f", ec.combine,
             ", ".join(names), val_metrics["auc"]["value"], val_metrics["sensitivity"]["value"],
             val_metrics["specificity"]["value"], threshold)

    emeta = ensemble_meta(names, inputs, [mc.dropout] * len(names), ec.combine, coef, intercept)
    for entry, row in zip(emeta["members"], rows):
        entry["threshold"] = row["threshold"]  # each member's own operating point, for its report only
    version = f"ensemble-{dt.date.today():%Y%m%d}-{weights_hash(model)}"
    origins = "; ".join(f"{n}: {backbone_info(n).weights_origin}" for n in names)
    meta = {
        "backbone": "ensemble",
        "ensemble": emeta,
        "dropout": mc.dropout,
        "class_names": list(CLASS_NAMES),
        "preprocessing": spec.to_dict(),
        "threshold": threshold,
        "threshold_rule": threshold_rule_meta(ev.threshold_rule, ev.min_sensitivity, ev.fixed_threshold),
        "model_version": version,
        "weights_origin": origins if mc.weights == "imagenet" else mc.weights,
        "data_fingerprint": splits.fingerprint,
        "ood": gate.to_dict(),
        "intended_population": intended_population(cfg).to_dict(),
        "pneumoscan_version": __version__,
    }
    save_checkpoint(out / "checkpoint.pt", model, meta, half=ec.half)
    save_config(cfg, out / "config.yaml")
    _write_json(out / "history.json", histories)
    _write_json(out / "splits.json", splits.manifest())
    figures.score_distribution(y_va, p_va, threshold, out / "figures" / "score_distribution_model_selection.png",
                               f"Scores on the model-selection split (n={len(y_va)})")
    card = {
        "model_version": version,
        "architecture": f"ensemble ({ec.combine}) of {len(names)} frozen ImageNet backbones with linear two-class "
                        f"heads: {', '.join(names)}",
        "backbone": "ensemble",
        "members": rows,
        "combination": {k: v for k, v in emeta.items() if k != "members"},
        **card_fields(meta, spec, data, splits, gate, val_metrics),
        "training": {"monitor": tc.monitor, "command": command,
                     "note": "members, their heads, the stack and the threshold are fitted on train/validation only"},
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_json(out / "model_card.json", card)
    _write_json(out / "metrics.json", {"model_selection": val_metrics, **extra,
                                       "members": {r["backbone"]: {"model_selection": r["model_selection"]}
                                                   for r in rows}})
    if splits.test is not None and not ec.skip_test:
        evaluate_run(out, data, "test", device=device, progress=progress)
    log.info("ensemble run folder written: %s", out)
    return out
