"""Does contrast equalisation (CLAHE, or global histogram equalisation) help? A frozen ImageNet
backbone's linear probe with and without it, judged on the validation split and on external
sources only (never on the Kermany test split).

The probe is scikit-learn's logistic regression on the backbone's pooled features (balanced
classes), fitted on a stratified random subset of the training split (the same subset for every
variant); the threshold is set on validation (sensitivity >= 0.95) and carried unchanged to the
external sources. Features are kept in $PNEUMOSCAN_FEATURE_CACHE when set.

    PNEUMOSCAN_FEATURE_CACHE=/work/cache/features python bench/clahe_probe.py \\
        --data ../shared/data/chest_xray --external ../shared/data/external/manifest.csv
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch.utils.data import DataLoader

from pneumoscan.config import DataConfig
from pneumoscan.data.datasets import LabelledImages, load_splits
from pneumoscan.data.decoding import decode_image
from pneumoscan.data.transforms import eval_transform
from pneumoscan.evaluation.metrics import evaluate_predictions
from pneumoscan.evaluation.threshold import choose_threshold
from pneumoscan.models.registry import build_model
from pneumoscan.training.features import cached_extract_features
from pneumoscan.training.run import preprocessing_for

log = logging.getLogger("clahe_probe")

# External sources with both labels, or a pooled adult set (normals and pneumonias from other machines).
EXTERNAL = {
    "adult_ieee8023": ["adult_ieee8023"],
    "pediatric_other": ["pediatric_other"],
    "adult pooled (jsrt+openi normals, hannover+ieee pneumonias)": [
        "adult_jsrt", "adult_normal_openist", "adult_covid_hannover", "adult_ieee8023"],
}


def _external(manifest: Path, sources: list[str], per_source: int, seed: int) -> LabelledImages:
    rows = [r for r in csv.DictReader(manifest.open())
            if r["source"] in sources and r["label"] in ("NORMAL", "PNEUMONIA")]
    rng = np.random.default_rng(seed)
    keep = []
    for source in sources:
        for label in ("NORMAL", "PNEUMONIA"):
            group = [r for r in rows if r["source"] == source and r["label"] == label]
            keep += [group[i] for i in sorted(rng.permutation(len(group))[:per_source])]
    paths = [manifest.parent / r["file"] for r in keep]
    return LabelledImages([r["file"] for r in keep], [int(r["label"] == "PNEUMONIA") for r in keep],
                          lambda i: decode_image(paths[i].read_bytes()).image)


def _stratified(targets: list[int], n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    y = np.asarray(targets)
    idx = []
    for c in (0, 1):
        pool = np.flatnonzero(y == c)
        idx += rng.permutation(pool)[: int(round(n * len(pool) / len(y)))].tolist()
    return sorted(idx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--external", type=Path, required=True, help="external manifest.csv")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--variants", default="none,clahe")
    ap.add_argument("--train-images", type=int, default=1200)
    ap.add_argument("--per-source", type=int, default=100, help="most images per source and label")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(args.seed)
    splits = load_splits(args.data, 0.1, 100, args.seed)  # the configs' defaults: the same validation split
    train = splits.train.subset(_stratified(splits.train.targets, args.train_images, args.seed))
    sets = {"validation": splits.val}
    for name, sources in EXTERNAL.items():
        sets[name] = _external(args.external, sources, args.per_source if len(sources) == 1 else args.per_source // 2,
                               args.seed)
    model = build_model(args.backbone, "imagenet").eval()
    rows = []
    for variant in args.variants.split(","):
        spec = preprocessing_for(DataConfig(equalize=variant), args.backbone)
        tf = eval_transform(spec)
        describe = {"backbone": args.backbone, "preprocessing": spec.to_dict(), "data": splits.fingerprint}

        def feats(ds: LabelledImages, name: str, tf=tf, describe=describe, variant=variant):
            ds = ds.with_transform(tf)
            f, y = cached_extract_features(model.backbone, DataLoader(ds, batch_size=32, num_workers=1), ds.ids,
                                           describe, torch.device("cpu"), f"{variant} {name}", True)
            return f.numpy(), y.numpy()

        f_tr, y_tr = feats(train, "train")
        clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(f_tr, y_tr)
        threshold = None
        for name, ds in sets.items():
            f, y = feats(ds, name)
            p = clf.predict_proba(f)[:, 1]
            if threshold is None:  # validation comes first
                threshold = choose_threshold(y, p, "sensitivity", 0.95, 0.5)
            m = evaluate_predictions(y, p, threshold, n_boot=500, seed=args.seed)
            rows.append((variant, name, m))
    print(f"\n{args.backbone} probe ({args.train_images} train images), threshold from validation (sens >= 0.95)")
    print(f"{'equalize':<9} {'set':<62} {'n':>4} {'AUC (95% CI)':<22} {'sens':>6} {'spec':>6}")
    for variant, name, m in rows:
        auc = m["auc"]
        print(f"{variant:<9} {name:<62} {m['n']:>4} {auc['value']:.3f} ({auc['ci_low']:.3f}-{auc['ci_high']:.3f})  "
              f"{m['sensitivity']['value']:>6.3f} {m['specificity']['value']:>6.3f}")


if __name__ == "__main__":
    main()
