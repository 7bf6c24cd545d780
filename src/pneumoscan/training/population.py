"""Fit a run's population check: its own training X-rays against X-rays of another population.

``pneumoscan population-check RUN --outside MANIFEST_OR_DIR --data DATA --out NEW_RUN``

- inside (label 0): a random sample of the run's *training* split (``splits.json``), read from ``--data``;
- outside (label 1): the images of ``--outside`` (a folder of images, or a CSV manifest with a ``file``
  column and optional ``source`` and ``license`` columns, filtered by ``--sources`` and
  ``--licence-prefix``); only images whose licence allows it may shape a committed model;
- threshold: the run's *model-selection* split (``splits.json`` ``val``), so that ``refused_inside``
  of it is refused. No test image is read.

The new run folder is a copy of the old one whose checkpoint meta and model card carry the check
and the intended population; the weights are unchanged.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pneumoscan.data.decoding import ImageDecodeError, decode_image
from pneumoscan.data.transforms import Preprocessing, eval_transform
from pneumoscan.models.checkpoint import load_checkpoint, save_checkpoint
from pneumoscan.models.net import PneumoniaNet
from pneumoscan.models.population import IntendedPopulation, PopulationCheck

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")


@torch.inference_mode()
def pass_features(
    model: PneumoniaNet, spec: Preprocessing, files: Sequence[Path], desc: str, progress: bool = True,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and block means of each file, from one pass: decoded as an upload is, eval-transformed.

    Raises:
        ValueError: a file cannot be decoded (the message names it).
    """
    transform = eval_transform(spec)
    pooled: list[np.ndarray] = []
    means: list[np.ndarray] = []
    for start in tqdm(range(0, len(files), batch_size), desc=desc, disable=not progress, leave=False):
        images = []
        for path in files[start : start + batch_size]:
            try:
                images.append(decode_image(Path(path).read_bytes()).image)
            except (OSError, ImageDecodeError) as exc:
                raise ValueError(f"Cannot read {path}: {exc}. Remove it from the list or fix the file.") from exc
        feats, block = model.features_and_block_means(torch.stack([transform(im) for im in images]))
        pooled.append(feats.float().numpy())
        means.append(block.numpy())
    return np.concatenate(pooled), np.concatenate(means)


def block_means(
    model: PneumoniaNet, spec: Preprocessing, files: Sequence[Path], desc: str, progress: bool = True,
    batch_size: int = 32,
) -> np.ndarray:
    """The population check's input for each file (``pass_features``' block means)."""
    return pass_features(model, spec, files, desc, progress, batch_size)[1]


def outside_files(
    outside: Path, sources: Sequence[str] = (), licence_prefix: str = "", exclude_non_commercial: bool = True
) -> tuple[list[Path], list[str]]:
    """The outside images and the names of their sources.

    Args:
        outside: a folder (every image below it; its name is the source) or a CSV manifest.
        sources: keep only these ``source`` values of the manifest (empty: all).
        licence_prefix: keep only manifest rows whose ``license`` starts with this (e.g. ``CC BY``).
        exclude_non_commercial: also drop licences that contain ``NC`` (CC BY-NC-*).

    Raises:
        ValueError: nothing left to fit on, or a manifest without a ``file`` column.
    """
    if outside.is_dir():
        files = sorted(p for p in outside.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        names = [outside.name]
    else:
        with open(outside, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "file" not in rows[0]:
            raise ValueError(f"{outside} must be a CSV manifest with a 'file' column (and optional source, license).")
        keep = [
            r for r in rows
            if (not sources or r.get("source") in sources)
            and str(r.get("license", "")).strip().startswith(licence_prefix)
            and not (exclude_non_commercial and "NC" in str(r.get("license", "")))
        ]
        files = [outside.parent / r["file"] for r in keep]
        names = sorted({r.get("source", outside.stem) for r in keep})
        if licence_prefix:
            names = [f"{name} ({licence_prefix} rows)" for name in names]
    if not files:
        raise ValueError(f"No outside images selected from {outside} (sources={list(sources)}, "
                         f"licence prefix {licence_prefix!r}). Check the filters.")
    return files, names


def fit_population_check(
    run_dir: Path,
    data_dir: Path,
    outside: Path,
    out_dir: Path,
    *,
    sources: Sequence[str] = (),
    licence_prefix: str = "",
    max_inside: int = 1200,
    refused_inside: float = 0.01,
    c: float = 0.1,
    held_out: Sequence[str] = (),
    population: IntendedPopulation | None = None,
    seed: int = 0,
    progress: bool = True,
) -> PopulationCheck:
    """Fit the check for ``run_dir`` and write the run with it to ``out_dir`` (may equal ``run_dir``).

    Raises:
        FileNotFoundError: the run has no ``splits.json`` (it says which images were training images).
        ValueError: see ``outside_files`` and ``PopulationCheck.fit``.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    splits_path = run_dir / "splits.json"
    if not splits_path.is_file():
        raise FileNotFoundError(f"{splits_path} is missing: the population check needs the run's own split lists.")
    splits = json.loads(splits_path.read_text())
    train = [Path(data_dir) / item["id"] for item in splits["train"]]
    val = [Path(data_dir) / item["id"] for item in splits["val"]]
    if not train[0].is_file():
        raise FileNotFoundError(f"{train[0]} not found: pass the data folder the run was trained on as --data.")
    inside = random.Random(seed).sample(train, min(max_inside, len(train)))
    out_files, out_names = outside_files(Path(outside), sources, licence_prefix)
    model, meta = load_checkpoint(run_dir)
    spec = Preprocessing.from_dict(meta["preprocessing"])
    log.info("population check: %d inside (of %d training images), %d outside (%s), threshold on %d validation images",
             len(inside), len(train), len(out_files), ", ".join(out_names), len(val))
    check = PopulationCheck.fit(
        block_means(model, spec, inside, "inside (train)", progress),
        block_means(model, spec, out_files, "outside", progress),
        block_means(model, spec, val, "threshold (val)", progress),
        refused_inside=refused_inside,
        c=c,
        fitted_on=[f"{Path(data_dir).name} train ({len(inside)} images)", *out_names],
        held_out=list(held_out),
    )
    if out_dir.resolve() != run_dir.resolve():
        shutil.copytree(run_dir, out_dir, dirs_exist_ok=True)
    pop = population or (IntendedPopulation.from_dict(meta["intended_population"])
                         if meta.get("intended_population") else None)
    meta["population_check"] = check.to_dict()
    if pop is not None:
        meta["intended_population"] = pop.to_dict()
    save_checkpoint(out_dir / "checkpoint.pt", model, meta, half=meta.get("weights_dtype") == "float16")
    card_path = out_dir / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card["population_check"] = check.summary()
    if pop is not None:
        card["intended_population"] = pop.to_dict()
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log.info("population check threshold %.4f (refuses %.1f%% of the validation split); written to %s",
             check.threshold, 100 * refused_inside, out_dir)
    return check
