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


@pytest.fixture(scope="session")
def site_images(tmp_path_factory) -> Path:
    """A hospital's labelled folder: synthetic NORMAL/PNEUMONIA images (a seed the tiny run never saw),
    the committed Kermany samples, a blank film (refused: blank_image), a file that is no image
    (refused: unsupported_media_type) and another label (``LATERAL``, reported without metrics)."""
    import shutil

    import numpy as np
    from PIL import Image

    from synthetic import make_xray

    root = tmp_path_factory.mktemp("site") / "st_marys"
    rng = np.random.default_rng(7)
    for cls in ("NORMAL", "PNEUMONIA", "LATERAL"):
        (root / cls).mkdir(parents=True)
    for i in range(8):
        make_xray(rng, False).save(root / "NORMAL" / f"IM-{9000 + i:04d}-0001.png")
        make_xray(rng, True).save(root / "PNEUMONIA" / f"person{9000 + i}_bacteria_{i}.png")
    for sample in (REPO / "samples").glob("*.jpeg"):
        shutil.copy(sample, root / ("NORMAL" if sample.name.startswith("NORMAL") else "PNEUMONIA") / sample.name)
    Image.new("L", (96, 96), 128).save(root / "NORMAL" / "blank.png")
    (root / "PNEUMONIA" / "notes.png").write_text("not an image")
    make_xray(rng, False).save(root / "LATERAL" / "lateral.png")
    return root


@pytest.fixture(scope="session")
def site_run(tiny_run, site_images, tmp_path_factory) -> Path:
    """``pneumoscan calibrate`` of the tiny run on ``site_images`` (Platt), with its own validation
    report of ``site_images`` attached (``validate --attach``)."""
    from pneumoscan.cli import main

    out = tmp_path_factory.mktemp("site_runs") / "st_marys_run"
    assert main(["calibrate", str(tiny_run), "--data", str(site_images), "--out", str(out), "--min-sensitivity",
                 "0.9", "--recalibrate", "platt", "--no-progress", "--bootstrap", "50"]) == 0
    assert main(["validate", str(out), "--data", str(site_images), "--attach", "--no-progress",
                 "--bootstrap", "50"]) == 0
    return out
