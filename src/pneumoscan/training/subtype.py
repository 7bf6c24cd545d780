"""Fit a run's subtype head: bacterial vs viral among its pneumonia images.

``pneumoscan subtype-head RUN --data DATA [--out NEW_RUN]``

- fitting: the pneumonia images of the run's *training* split (``splits.json``) whose file names
  carry the subtype (``models.subtype.subtype_label``); images without it are skipped;
- choice of the features (pooled or block means), of ``C`` and of the threshold: the run's
  *model-selection* split (``val``), by AUC, then Youden's J for the threshold;
- measurement: the *test* split's pneumonia images, once, with bootstrap CIs (positive class: viral).

The features come from the run's own forward pass (``pass_features``: the same pooled features and
block means that serving's single pass returns), so any run that loads as one model gets a head.
The new run folder is a copy of the old one whose checkpoint meta and model card carry the head;
the weights are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from pneumoscan.data.transforms import Preprocessing
from pneumoscan.evaluation.metrics import evaluate_predictions
from pneumoscan.evaluation.threshold import choose_threshold
from pneumoscan.models.checkpoint import checkpoint_sha256, load_checkpoint, save_checkpoint
from pneumoscan.models.subtype import FEATURE_KINDS, SubtypeHead, subtype_label
from pneumoscan.training.population import pass_features

log = logging.getLogger(__name__)
DEFAULT_CS: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)


def labelled(items: Sequence[dict]) -> tuple[list[str], np.ndarray]:
    """The split entries (``{"id", "label"}``) that carry a subtype: their ids and 1 for viral, 0 for bacterial."""
    ids, viral = [], []
    for item in items:
        kind = subtype_label(item["id"], item.get("label"))
        if kind is not None:
            ids.append(item["id"])
            viral.append(int(kind == "viral"))
    return ids, np.asarray(viral, dtype=int)


def fit_subtype_head(
    run_dir: Path,
    data_dir: Path,
    out_dir: Path,
    *,
    features: Sequence[str] = FEATURE_KINDS,
    cs: Sequence[float] = DEFAULT_CS,
    n_boot: int = 1000,
    cache: Path | None = None,
    progress: bool = True,
) -> SubtypeHead:
    """Fit, choose on validation, measure on test; write the run with the head to ``out_dir``.

    Args:
        run_dir: a run folder with ``splits.json``.
        data_dir: the data folder the run was trained on (the split ids are relative to it).
        out_dir: where to write the run with its head (may equal ``run_dir``).
        features: the feature kinds to choose from on validation.
        cs: the inverse regularisation strengths to choose from on validation.
        n_boot: bootstrap resamples for the CIs.
        cache: an ``.npz`` file for the extracted features: read when it holds this checkpoint's features
            of the same images, else written (refitting then skips the slow forward passes).

    Raises:
        FileNotFoundError: no ``splits.json``, or the data folder does not hold the split's images.
        ValueError: the training or validation split has too few pneumonia images named by subtype.
    """
    run_dir, out_dir, data_dir = Path(run_dir), Path(out_dir), Path(data_dir)
    splits_path = run_dir / "splits.json"
    if not splits_path.is_file():
        raise FileNotFoundError(f"{splits_path} is missing: the subtype head needs the run's own split lists.")
    unknown = [f for f in features if f not in FEATURE_KINDS]
    if unknown or not features or not cs:
        raise ValueError(f"Choose features among {', '.join(FEATURE_KINDS)} and at least one C; got {list(features)}, "
                         f"{list(cs)}.")
    splits = json.loads(splits_path.read_text())
    parts = {name: labelled(splits.get(name, [])) for name in ("train", "val", "test")}
    for name in ("train", "val"):
        ids, y = parts[name]
        if min(int((y == 0).sum()), int((y == 1).sum())) < 5:
            raise ValueError(
                f"The {name} split has {int((y == 0).sum())} bacterial and {int((y == 1).sum())} viral pneumonia "
                "images named by subtype (person*_bacteria_*, person*_virus_*); at least 5 of each are needed. "
                "Data without these names has no subtype: the run keeps no subtype head."
            )
    first = data_dir / parts["train"][0][0]
    if not first.is_file():
        raise FileNotFoundError(f"{first} not found: pass the data folder the run was trained on as --data.")
    test_ids, y_test = parts["test"]
    if test_ids and not (data_dir / test_ids[0]).is_file():
        log.warning("test images not found under %s: the head is fitted without test metrics", data_dir)
        test_ids, y_test = [], np.zeros(0, int)

    model, meta = load_checkpoint(run_dir)
    spec = Preprocessing.from_dict(meta["preprocessing"])
    log.info("subtype head: %d train, %d validation, %d test pneumonia images named by subtype",
             len(parts["train"][0]), len(parts["val"][0]), len(test_ids))
    named = {"train": parts["train"][0], "val": parts["val"][0], "test": test_ids}
    feats = _cached(cache, run_dir, named)
    if feats is None:
        feats = {}
        for name, ids in named.items():
            pooled, means = (pass_features(model, spec, [data_dir / i for i in ids], f"subtype features ({name})",
                                           progress) if ids else (None, None))
            feats[name] = {"pooled": pooled, "block_means": means}
        if cache is not None:
            _store(cache, run_dir, named, feats)

    y_train, y_val = parts["train"][1], parts["val"][1]
    best: tuple[float, SubtypeHead] | None = None
    tried = []
    for kind in features:
        for c in cs:
            head = SubtypeHead.fit(feats["train"][kind], y_train, c=c, features=kind)
            auc = float(roc_auc_score(y_val, head.p_viral(feats["val"][kind])))
            tried.append({"features": kind, "c": c, "val_auc": round(auc, 4)})
            log.info("subtype head %s C=%g: validation AUC %.4f", kind, c, auc)
            if best is None or auc > best[0]:
                best = (auc, head)
    assert best is not None
    head = best[1]
    p_val = head.p_viral(feats["val"][head.features])
    head.threshold = choose_threshold(y_val, p_val, rule="youden")
    head.metrics = {"positive_class": "viral", "validation": evaluate_predictions(y_val, p_val, head.threshold, n_boot)}
    if test_ids:
        p_test = head.p_viral(feats["test"][head.features])
        head.metrics["test"] = evaluate_predictions(y_test, p_test, head.threshold, n_boot)
    head.fitted_on = {
        "source": data_dir.name,
        "train": _counts(y_train), "validation": _counts(y_val), "test": _counts(y_test),
        "chosen_on": "validation (features, C by AUC; threshold by Youden's J)",
        "tried": tried,
    }

    if out_dir.resolve() != run_dir.resolve():
        shutil.copytree(run_dir, out_dir, dirs_exist_ok=True)
    meta["subtype_head"] = head.to_dict()
    save_checkpoint(out_dir / "checkpoint.pt", model, meta, half=meta.get("weights_dtype") == "float16")
    card_path = out_dir / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card["subtype_head"] = head.summary()
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log.info("subtype head (%s, C=%g, threshold %.4f) written to %s", head.features, head.c, head.threshold, out_dir)
    return head


def _cache_key(run_dir: Path, named: dict[str, list[str]]) -> str:
    """The checkpoint's hash and the image lists: features are reused only for both unchanged."""
    digest = hashlib.sha256(checkpoint_sha256(run_dir).encode())
    digest.update(json.dumps(named, sort_keys=True).encode())
    return digest.hexdigest()


def _cached(cache: Path | None, run_dir: Path, named: dict[str, list[str]]) -> dict | None:
    if cache is None or not Path(cache).is_file():
        return None
    with np.load(cache, allow_pickle=False) as blob:
        if str(blob["key"]) != _cache_key(run_dir, named):
            log.info("feature cache %s is for another checkpoint or other images: extracting again", cache)
            return None
        log.info("features read from %s", cache)
        return {name: {kind: (blob[f"{name}.{kind}"] if ids else None) for kind in FEATURE_KINDS}
                for name, ids in named.items()}


def _store(cache: Path, run_dir: Path, named: dict[str, list[str]], feats: dict) -> None:
    arrays = {f"{name}.{kind}": feats[name][kind] for name in named for kind in FEATURE_KINDS
              if feats[name][kind] is not None}
    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as handle:  # a file object: np.savez would append .npz to the name
        np.savez(handle, key=np.asarray(_cache_key(run_dir, named)), **arrays)


def _counts(viral: np.ndarray) -> dict[str, int]:
    return {"bacterial": int((viral == 0).sum()), "viral": int((viral == 1).sum())}
