"""A site's own operating point: threshold (and optional recalibration) from its labelled images.

- ``site_operating_point``: recalibration + threshold from the answered images of a site.
- ``crossfit``: the honest measure of that protocol on one labelled set: split the images into
  folds grouped by patient, set the operating point on the other folds, measure on this one,
  pool. No image ever helps set its own threshold.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from pneumoscan.data.patients import patient_id
from pneumoscan.evaluation.metrics import evaluate_predictions
from pneumoscan.evaluation.threshold import choose_threshold
from pneumoscan.evaluation.validation import (
    Screener,
    answered_arrays,
    data_fingerprint,
    default_source_name,
    load_labelled_set,
    screen_files,
    source_slug,
)
from pneumoscan.models.checkpoint import load_checkpoint, save_checkpoint
from pneumoscan.models.recalibration import Recalibration

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class OperatingPoint:
    """A threshold on (possibly recalibrated) probabilities and the rule that chose it."""

    threshold: float
    rule: dict
    recalibration: Recalibration


def site_operating_point(y: np.ndarray, p: np.ndarray, min_sensitivity: float | None = None,
                         threshold: float | None = None, recalibrate: str = "none") -> OperatingPoint:
    """Recalibrate (optionally) and choose the threshold on a site's answered images.

    Exactly one of ``min_sensitivity`` (the highest threshold whose sensitivity reaches it) and
    ``threshold`` (fixed, on the recalibrated scale) is given.

    Raises:
        ValueError: both or neither rule, a value outside (0, 1], or one class only.
    """
    if (min_sensitivity is None) == (threshold is None):
        raise ValueError("Give exactly one of --min-sensitivity S or --threshold T.")
    value = min_sensitivity if min_sensitivity is not None else threshold
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{'--min-sensitivity' if threshold is None else '--threshold'} must be in (0, 1], "
                         f"got {value}.")
    recal = Recalibration.fit(y, p, recalibrate)
    q = recal.apply(p)
    if threshold is not None:
        return OperatingPoint(float(threshold), {"rule": "fixed", "fixed_threshold": float(threshold)}, recal)
    t = choose_threshold(y, q, "sensitivity", float(min_sensitivity))
    return OperatingPoint(t, {"rule": "sensitivity", "min_sensitivity": float(min_sensitivity)}, recal)


def provenance(site: str, y: np.ndarray, fingerprint: str, op: OperatingPoint, original_threshold: float,
               original_rule: dict | None) -> dict:
    """The ``operating_point`` record of a site-calibrated run (checkpoint meta and model card)."""
    rule = {**op.rule, "source": "site", "site": site}
    return {
        "source": "site",
        "site": site,
        "n_per_class": {"NORMAL": int((np.asarray(y) == 0).sum()), "PNEUMONIA": int((np.asarray(y) == 1).sum())},
        "data_fingerprint": fingerprint,
        "date": dt.date.today().isoformat(),
        "rule": rule,
        "threshold": float(op.threshold),
        "original_threshold": float(original_threshold),
        "original_rule": original_rule,
        "recalibration": op.recalibration.method,
    }


# ---------------------------------------------------------------------------------- cross-fitting


def patient_folds(labels: Sequence[int], groups: Sequence[str], n_folds: int = 2, seed: int = 0) -> np.ndarray:
    """Fold number per image, stratified by label, all images of a patient in one fold.

    Raises:
        ValueError: fewer patients than folds.
    """
    if n_folds < 2:
        raise ValueError(f"--folds must be at least 2, got {n_folds}.")
    if len(set(groups)) < n_folds:
        raise ValueError(f"Only {len(set(groups))} patients: too few for {n_folds} folds.")
    fold = np.full(len(labels), -1, dtype=int)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(np.zeros(len(labels)), np.asarray(labels), np.asarray(groups))):
        fold[test_idx] = k
    return fold


@dataclass(frozen=True)
class CrossFit:
    """Per image: its fold, the threshold and recalibration it was measured with, its score.

    ``thresholds[k]`` was set on the images of every fold but ``k``; ``probability`` holds each
    image's (recalibrated) score as its own fold's operating point saw it.
    """

    fold: np.ndarray
    thresholds: list[float]
    recalibrations: list[Recalibration]
    calibrated_on: list[np.ndarray]  # indices used to set fold k's operating point
    probability: np.ndarray
    pooled: dict  # evaluate_predictions on all images at their own fold's threshold


def crossfit(y: np.ndarray, p: np.ndarray, groups: Sequence[str], n_folds: int = 2,
             min_sensitivity: float | None = 0.95, threshold: float | None = None, recalibrate: str = "none",
             n_boot: int = 1000, seed: int = 0) -> CrossFit:
    """Set the operating point on the other folds, measure each fold with it, pool all images.

    Args:
        y, p: labels and raw P(pneumonia) of the answered images.
        groups: patient id per image (``pneumoscan.data.patients.patient_id``).

    Returns:
        A ``CrossFit``; ``pooled`` has accuracy, AUC, sensitivity, specificity... with 95% CIs.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    fold = patient_folds(y, groups, n_folds, seed)
    q = np.empty_like(p)
    called = np.empty(len(y), dtype=int)
    thresholds, recals, used = [], [], []
    for k in range(n_folds):
        fit_idx, eval_idx = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        op = site_operating_point(y[fit_idx], p[fit_idx], min_sensitivity, threshold, recalibrate)
        q[eval_idx] = op.recalibration.apply(p[eval_idx])
        called[eval_idx] = (q[eval_idx] >= op.threshold).astype(int)
        thresholds.append(op.threshold)
        recals.append(op.recalibration)
        used.append(fit_idx)
    # Pooled: each image is called at its own fold's threshold. evaluate_predictions takes one threshold,
    # so the threshold metrics come from the 0/1 calls (at 0.5) and the AUC from the scores.
    pooled = evaluate_predictions(y, called.astype(float), 0.5, n_boot=n_boot, seed=seed)
    auc = evaluate_predictions(y, q, 0.5, n_boot=n_boot, seed=seed)["auc"]
    pooled["auc"] = auc
    pooled["threshold"] = None
    pooled["thresholds"] = thresholds
    return CrossFit(fold, thresholds, recals, used, q, pooled)


# ------------------------------------------------------------------------------- run folders


def _need_both(y: np.ndarray, what: str) -> None:
    n_neg, n_pos = int((y == 0).sum()), int((y == 1).sum())
    if n_neg == 0 or n_pos == 0:
        raise ValueError(f"{what} needs answered NORMAL and PNEUMONIA images; the site's answered images are "
                         f"NORMAL {n_neg}, PNEUMONIA {n_pos}. Add labelled images of the missing class.")


def calibrate_run(screener: Screener, run_dir: str | Path, data: str | Path, out: str | Path,
                  min_sensitivity: float | None = None, threshold: float | None = None, recalibrate: str = "none",
                  site: str | None = None, source: str | None = None, progress: bool = True,
                  n_boot: int = 1000) -> dict:
    """Copy ``run_dir`` to ``out`` with the operating point set on the site's labelled images.

    Args:
        screener: the run's ``Predictor`` *without* any earlier recalibration (raw probabilities).
        data: the site's labelled images (folder or manifest, as for ``validate``).
        site: the site's name (default: the data folder's name).

    Returns:
        The ``operating_point`` record written to the checkpoint meta and the model card, plus
        ``in_sample`` metrics at the new threshold (optimistic: measured on the same images).

    Raises:
        ValueError: ``out`` exists, a bad rule, or answered images of one class only.
    """
    run_dir, out = Path(run_dir), Path(out)
    if out.exists():
        raise ValueError(f"{out} already exists; choose a new folder for the calibrated run.")
    labelled = load_labelled_set(data, source)
    site_name = source_slug(site or source or default_source_name(data))
    outcomes = screen_files(screener, labelled.files, progress=progress, desc=f"calibrate {site_name}")
    y, p = answered_arrays(labelled.files, outcomes)
    if min_sensitivity is not None or recalibrate != "none":
        _need_both(y, "Setting the threshold by sensitivity" if recalibrate == "none" else "Recalibration")
    if len(y) == 0:
        raise ValueError("None of the site's NORMAL or PNEUMONIA images was answered; nothing to calibrate on.")
    op = site_operating_point(y, p, min_sensitivity, threshold, recalibrate)
    model, meta = load_checkpoint(run_dir)
    record = provenance(site_name, y, data_fingerprint(labelled.files, outcomes), op, meta["threshold"],
                        meta.get("threshold_rule"))
    record["from_run"] = {"path": str(run_dir), "model_version": meta["model_version"]}
    q = op.recalibration.apply(p)
    in_sample = evaluate_predictions(y, q, op.threshold, n_boot=n_boot)
    base_version = str(meta["model_version"]).split("+site-", 1)[0]
    meta.update(threshold=op.threshold, threshold_rule=record["rule"], recalibration=op.recalibration.to_dict(),
                operating_point=record, model_version=f"{base_version}+site-{site_name}")
    shutil.copytree(run_dir, out, ignore=shutil.ignore_patterns("checkpoint.pt", "train_state.pt", "validation"))
    save_checkpoint(out / "checkpoint.pt", model, meta, half=meta.get("weights_dtype") == "float16")
    card_path = out / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card.update(model_version=meta["model_version"], threshold=op.threshold, threshold_rule=record["rule"],
                operating_point=record)
    card["metrics_note"] = (f"metrics measured before site calibration are at the original threshold "
                            f"{float(record['original_threshold']):.4f}; in_sample metrics are at the site threshold "
                            "on the same images that set it (optimistic)")
    card.setdefault("metrics", {})["site_in_sample"] = {k: in_sample[k] for k in (
        "n", "threshold", "confusion_matrix", "accuracy", "auc", "sensitivity", "specificity", "precision", "npv")}
    card_path.write_text(json.dumps(card, indent=2, default=float) + "\n")
    log.info("calibrated run written: %s (threshold %.4f, was %.4f)", out, op.threshold, record["original_threshold"])
    return {**record, "in_sample": in_sample}


def crossfit_report(screener: Screener, data: str | Path, n_folds: int = 2, min_sensitivity: float | None = 0.95,
                    threshold: float | None = None, recalibrate: str = "none", source: str | None = None,
                    progress: bool = True, n_boot: int = 1000, seed: int = 0) -> tuple[dict, list[dict]]:
    """Cross-fitted site calibration on one labelled set, beside the zero-shot (run threshold) row.

    Returns:
        ``(summary, rows)``: the two metric rows (same answered images) and the folds' thresholds;
        one row per image with its fold and the threshold it was measured at.
    """
    labelled = load_labelled_set(data, source)
    outcomes = screen_files(screener, labelled.files, progress=progress, desc="cross-fit")
    keep = [i for i, (f, o) in enumerate(zip(labelled.files, outcomes))
            if f.target is not None and o.probability is not None]
    files = [labelled.files[i] for i in keep]
    y, p = answered_arrays(labelled.files, outcomes)
    _need_both(y, "Cross-fitting")
    groups = [patient_id(f.rel) for f in files]
    fit = crossfit(y, p, groups, n_folds, min_sensitivity, threshold, recalibrate, n_boot, seed)
    zero_shot = evaluate_predictions(y, p, screener.threshold, n_boot=n_boot, seed=seed)
    refused = sum(o.reason is not None for o in outcomes)
    summary = {
        "data": str(data), "n_images": len(labelled.files), "refused": refused, "answered_labelled": len(y),
        "patients": len(set(groups)), "folds": n_folds,
        "rule": {"min_sensitivity": min_sensitivity} if threshold is None else {"threshold": threshold},
        "recalibration": recalibrate, "fold_thresholds": fit.thresholds,
        "fold_sizes": [int((fit.fold == k).sum()) for k in range(n_folds)],
        "zero_shot": {"threshold": float(screener.threshold), **_row(zero_shot)},
        "cross_fitted": _row(fit.pooled),
    }
    rows = [{"file": f.rel, "patient": g, "label": f.label, "fold": int(fit.fold[i]),
             "threshold": fit.thresholds[int(fit.fold[i])], "probability": float(fit.probability[i]),
             "called": int(fit.probability[i] >= fit.thresholds[int(fit.fold[i])])}
            for i, (f, g) in enumerate(zip(files, groups))]
    return summary, rows


def _row(m: dict) -> dict:
    return {k: m[k] for k in ("n", "confusion_matrix", "accuracy", "auc", "sensitivity", "specificity",
                              "precision", "npv") if k in m}
