"""Shared fixtures: a synthetic dataset and a real tiny trained run folder (seconds on a CPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import write_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

TINY_TRAIN_ARGS = [
    "--backbone", "efficientnet_lite0", "--weights", "imagenet", "--epochs", "3", "--batch-size", "8",
    "--image-size", "64", "--device", "cpu", "--workers", "0", "--no-progress",
    "--set", "data.resize=72", "--set", "data.canonical=64", "--set", "data.augment=false",
    "--set", "data.min_val_size=8", "--set", "train.lr=0.01", "--set", "eval.bootstrap=100",
    "--set", "train.scheduler=none",
]


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """``train/`` (24 per class), ``val/`` (6 per class), ``test/`` (6 per class) of synthetic PNGs."""
    return write_dataset(tmp_path_factory.mktemp("synthetic") / "data", {"train": 24, "val": 6, "test": 6})


@pytest.fixture(scope="session")
def tiny_run(synthetic_dataset, tmp_path_factory) -> Path:
    """A real run folder written by ``pneumoscan train`` on the synthetic dataset."""
    from pneumoscan.cli import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(out), *TINY_TRAIN_ARGS]) == 0
    return out


@pytest.fixture(scope="session")
def shared_chest_xray() -> Path:
    path = SHARED_DATA / "chest_xray"
    if not path.is_dir():
        pytest.skip("../shared/data/chest_xray is absent (only on the project's development machines)")
    return path
