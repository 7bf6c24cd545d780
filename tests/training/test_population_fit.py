"""``pneumoscan population-check``: fitted on the run's own train split against outside images,
thresholded on its validation split, never reading test images; served by the Predictor."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.serving.predictor import Predictor
from pneumoscan.training.population import outside_files
from synthetic import make_xray


def _striped(seed: int):
    """Another 'population': the synthetic X-ray with dense horizontal ribs and a brighter body."""
    img = np.asarray(make_xray(np.random.default_rng(seed), pneumonia=seed % 2 == 0), dtype=np.float32)
    rows = np.arange(img.shape[0])[:, None]
    img = np.clip(img * 1.3 + 60 * (np.sin(rows / 2.0) > 0.3), 0, 255)
    from PIL import Image

    return Image.fromarray(img.astype(np.uint8), mode="L")


@pytest.fixture(scope="module")
def population_run(tiny_run, synthetic_dataset, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("population")
    data = root / "data"  # the training data without test/: the fit must not need it
    shutil.copytree(synthetic_dataset, data, ignore=lambda d, names: ["test"] if Path(d) == synthetic_dataset else [])
    outside = root / "outside"
    outside.mkdir()
    for i in range(40):
        _striped(100 + i).save(outside / f"o{i}.png")
    out = root / "run"
    args = ["population-check", str(tiny_run), "--data", str(data), "--outside", str(outside), "--out", str(out),
            "--refused-inside", "0.1", "--held-out", "a,b", "--no-progress"]
    assert main(args) == 0
    return out, outside


def test_the_fitted_run_carries_the_check_and_the_population_with_unchanged_weights(population_run, tiny_run):
    out, _ = population_run
    model, meta = load_checkpoint(out)
    base, base_meta = load_checkpoint(tiny_run)
    check = meta["population_check"]
    assert check["kind"] == "logistic_features" and check["features"] == "block_means"
    assert check["fitted_on"][1] == "outside" and check["held_out"] == ["a", "b"]
    assert meta["intended_population"]["age_max_years"] == 5.0
    assert all(np.array_equal(a, b) for a, b in zip(model.state_dict().values(), base.state_dict().values()))
    assert meta["threshold"] == base_meta["threshold"]


def test_the_served_check_refuses_the_other_population_and_answers_the_training_one(population_run,
                                                                                    synthetic_dataset):
    out, _ = population_run
    predictor = Predictor.from_run(out)
    assert predictor.population_check is not None
    others = [_striped(500 + i) for i in range(12)]
    ours = [make_xray(np.random.default_rng(900 + i), pneumonia=i % 2 == 0) for i in range(12)]
    threshold = predictor.population_check.threshold
    other_scores = [p.population_score for p in predictor.predict_batch(others)]
    our_scores = [p.population_score for p in predictor.predict_batch(ours)]
    assert sum(s > threshold for s in other_scores) >= 10
    assert sum(s > threshold for s in our_scores) <= 3
    assert min(other_scores) > float(np.median(our_scores))


def test_outside_manifest_keeps_only_the_chosen_sources_and_licences(tmp_path):
    rows = [("a/1.png", "src_a", "CC BY 4.0"), ("a/2.png", "src_a", "CC BY-NC-SA 4.0"),
            ("b/1.png", "src_b", "CC BY 3.0"), ("c/1.png", "src_c", "none stated")]
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["file", "source", "label", "license"])
        w.writerows([(f, s, "NORMAL", lic) for f, s, lic in rows])
    files, names = outside_files(manifest, sources=["src_a", "src_b"], licence_prefix="CC BY")
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/1.png", "b/1.png"]
    assert names == ["src_a (CC BY rows)", "src_b (CC BY rows)"]
    with pytest.raises(ValueError, match="No outside images"):
        outside_files(manifest, sources=["src_c"], licence_prefix="CC BY")
