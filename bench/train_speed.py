"""Epoch time with the backbone-feature cache and without it: same model, same data, one run.

    python bench/train_speed.py [--data DIR] [--images N] [--epochs E]

Uses N images of ``DIR/train`` (default ../shared/data/chest_xray when present, else synthetic
images), the frozen ImageNet efficientnet_lite0 and the 224-px eval transform; prints seconds per
epoch for each path, the one-off cache cost and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "chest_xray")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    from pneumoscan.data.datasets import load_split
    from pneumoscan.data.transforms import Preprocessing, eval_transform
    from pneumoscan.models import build_model
    from pneumoscan.training.engine import make_optimizer, train_model
    from pneumoscan.training.features import extract_features, feature_loader

    data = args.data
    if not (data / "train").is_dir():
        sys.path.insert(0, str(REPO / "tests"))
        from synthetic import write_dataset

        data = write_dataset(Path(tempfile.mkdtemp()) / "ds", {"train": args.images // 2}, size=256)
        source = "synthetic"
    else:
        source = str(data)
    ds = load_split(data, "train").with_transform(eval_transform(Preprocessing()))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: args.images].tolist()
    ds = ds.subset(idx)
    n_val = max(2, len(ds) // 8)
    train, val = ds.subset(range(n_val, len(ds))), ds.subset(range(n_val))
    cpu = torch.device("cpu")
    print(f"data: {source}, {len(train)} train + {len(val)} val images, {args.epochs} epochs, "
          f"torch threads {torch.get_num_threads()}")

    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", weights="imagenet")
    loaders = {"train": DataLoader(train, args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)),
               "val": DataLoader(val, args.batch_size)}
    opt = make_optimizer(model, "sgd", 0.001, 0.9, 0.0)
    t0 = time.perf_counter()
    train_model(model, loaders, nn.CrossEntropyLoss(), opt, None, args.epochs, cpu, progress=False)
    uncached = (time.perf_counter() - t0) / args.epochs

    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", weights="imagenet")
    t0 = time.perf_counter()
    f_tr, y_tr = extract_features(model.backbone, DataLoader(train, args.batch_size), cpu, progress=False)
    f_va, y_va = extract_features(model.backbone, DataLoader(val, args.batch_size), cpu, progress=False)
    cache_cost = time.perf_counter() - t0
    floaders = {"train": feature_loader(f_tr, y_tr, args.batch_size, True, torch.Generator().manual_seed(0)),
                "val": feature_loader(f_va, y_va, args.batch_size, False, None)}
    opt = make_optimizer(model.head, "sgd", 0.001, 0.9, 0.0)
    t0 = time.perf_counter()
    train_model(model.head, floaders, nn.CrossEntropyLoss(), opt, None, args.epochs, cpu, progress=False)
    cached = (time.perf_counter() - t0) / args.epochs

    print(f"epoch without cache : {uncached:8.3f} s")
    print(f"epoch with cache    : {cached:8.3f} s   (+ {cache_cost:.2f} s once to compute the cache)")
    print(f"speed-up per epoch  : {uncached / cached:8.1f}x")
    total_u, total_c = uncached * args.epochs, cache_cost + cached * args.epochs
    print(f"whole {args.epochs}-epoch run : {total_u:.2f} s vs {total_c:.2f} s ({total_u / total_c:.1f}x)")


if __name__ == "__main__":
    main()
