"""``pneumoscan subtype-head``: fitted on the run's own train pneumonias named by subtype, chosen on
its validation split, measured on test; skipped (a clear error, no head) for data without the names;
served by the Predictor only under a pneumonia answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.serving.predictor import Predictor
from synthetic import make_xray

COUNTS = {"train": 14, "val": 8, "test": 8}  # per subtype; NORMAL images as many as both together


def _viral(rng: np.random.Generator) -> Image.Image:
    """A 'viral' pattern: a diffuse haze over both lungs instead of one focal opacity."""
    img = np.asarray(make_xray(rng, pneumonia=False), dtype=np.float32)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]] / img.shape[0]
    haze = 70 * np.exp(-(((yy - 0.5) / 0.3) ** 2)) * (np.sin(xx * 40) * 0.5 + 1)
    return Image.fromarray(np.clip(img + haze, 0, 255).astype(np.uint8), mode="L")


def _write(root: Path) -> dict[str, list[dict]]:
    """Kermany-named images and the split lists that ``splits.json`` holds."""
    rng = np.random.default_rng(5)
    splits: dict[str, list[dict]] = {}
    person = 0
    for split, n in COUNTS.items():
        items = []
        for i in range(n):
            for kind in ("bacteria", "virus"):
                person += 1
                name = f"{split}/PNEUMONIA/person{person}_{kind}_{i}.png"
                image = make_xray(rng, pneumonia=True) if kind == "bacteria" else _viral(rng)
                items.append({"id": name, "label": "PNEUMONIA", "image": image})
            for j in range(2):
                items.append({"id": f"{split}/NORMAL/IM-{person:04d}-{j}.png", "label": "NORMAL",
                              "image": make_xray(rng, pneumonia=False)})
        for item in items:
            path = root / item["id"]
            path.parent.mkdir(parents=True, exist_ok=True)
            item.pop("image").save(path)
        splits[split] = items
    return splits


@pytest.fixture(scope="module")
def named_case(tiny_run, tmp_path_factory) -> tuple[Path, Path]:
    """The tiny run, its splits pointed at Kermany-named synthetic images."""
    root = tmp_path_factory.mktemp("subtype")
    data, run = root / "data", root / "named_run"
    splits = _write(data)
    shutil.copytree(tiny_run, run)
    (run / "splits.json").write_text(json.dumps(splits))
    return run, data


@pytest.fixture(scope="module")
def fitted(named_case, tmp_path_factory) -> Path:
    run, data = named_case
    out = tmp_path_factory.mktemp("subtype_out") / "run"
    cache = out.parent / "features.npz"
    args = ["subtype-head", str(run), "--data", str(data), "--out", str(out), "--bootstrap", "50",
            "--cache", str(cache), "--no-progress"]
    assert main(args) == 0
    assert cache.is_file()
    return out


def test_the_fitted_run_carries_the_head_its_choice_and_test_metrics_with_unchanged_weights(fitted, named_case):
    model, meta = load_checkpoint(fitted)
    base, base_meta = load_checkpoint(named_case[0])
    head = meta["subtype_head"]
    assert head["features"] in ("pooled", "block_means") and 0.0 < head["threshold"] < 1.0
    assert head["fitted_on"]["train"] == {"bacterial": 14, "viral": 14}  # NORMAL images skipped
    assert head["fitted_on"]["validation"] == {"bacterial": 8, "viral": 8}
    assert head["fitted_on"]["test"] == {"bacterial": 8, "viral": 8}
    assert len(head["fitted_on"]["tried"]) == 2 * 4  # both feature kinds x the default Cs, on validation
    test = head["metrics"]["test"]
    assert test["n"] == 16 and test["auc"]["ci_low"] <= test["auc"]["value"] <= test["auc"]["ci_high"]
    assert test["auc"]["value"] >= 0.8  # a haze and a focal opacity are easy to tell apart
    assert all(np.array_equal(a, b) for a, b in zip(model.state_dict().values(), base.state_dict().values()))
    assert meta["threshold"] == base_meta["threshold"]
    card = json.loads((fitted / "model_card.json").read_text())
    assert card["subtype_head"]["metrics"]["test"]["accuracy"] == test["accuracy"]
    assert "mean" not in card["subtype_head"]  # no arrays on the card


def test_a_refit_from_the_feature_cache_gives_the_same_head(fitted, named_case, tmp_path):
    run, data = named_case
    again = tmp_path / "again"
    args = ["subtype-head", str(run), "--data", str(data), "--out", str(again), "--bootstrap", "50",
            "--cache", str(fitted.parent / "features.npz"), "--no-progress"]
    assert main(args) == 0
    first, second = load_checkpoint(fitted)[1]["subtype_head"], load_checkpoint(again)[1]["subtype_head"]
    assert np.allclose(first["coef"], second["coef"]) and first["threshold"] == second["threshold"]


def test_the_predictor_gives_the_pattern_only_under_a_pneumonia_answer(fitted):
    predictor = Predictor.from_run(fitted)
    assert predictor.subtype_head is not None
    rng = np.random.default_rng(77)
    images = [make_xray(rng, pneumonia=i % 2 == 0) for i in range(10)] + [_viral(rng) for _ in range(4)]
    preds = predictor.predict_batch(images)
    assert {p.label for p in preds} == {"NORMAL", "PNEUMONIA"}
    for pred in preds:
        if pred.label == "PNEUMONIA":
            s = pred.subtype
            head = predictor.subtype_head
            assert s["pattern"] in ("bacterial", "viral") and 0 <= s["probability"] <= 1.0
            p_viral = s["probability"] if s["pattern"] == "viral" else 1 - s["probability"]
            assert (p_viral >= head.threshold) == (s["pattern"] == "viral")
            assert s["wording"].startswith(f"Pattern more like {s['pattern']} pneumonia "
                                           f"(P(viral) = {p_viral:.2f}, viral from {head.threshold:.2f})")
            assert s["head_test_accuracy"] == predictor.subtype_head.test_accuracy
            assert pred.to_dict()["subtype"] == s
        else:
            assert pred.subtype is None and pred.to_dict()["subtype"] is None


def test_data_without_subtype_names_gets_no_head_and_a_clear_message(tiny_run, synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "run"  # the shared synthetic data names every pneumonia "bacteria": no viral image
    assert main(["subtype-head", str(tiny_run), "--data", str(synthetic_dataset), "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "0 viral pneumonia images named by subtype" in err and "no subtype head" in err
    assert not out.exists()
    assert "subtype_head" not in load_checkpoint(tiny_run)[1]


def test_plain_predict_output_adds_the_pattern_only_to_pneumonia_lines(fitted, tmp_path, capsys):
    rng = np.random.default_rng(77)  # the images of the predictor test above: both answers occur
    images = [make_xray(rng, pneumonia=i % 2 == 0) for i in range(10)] + [_viral(rng) for _ in range(4)]
    paths = []
    for i, image in enumerate(images):
        image.save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    assert main(["predict", str(fitted), *paths]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == len(images) and {r[1] for r in rows} == {"NORMAL", "PNEUMONIA"}
    for row in rows:
        if row[1] == "PNEUMONIA":
            assert len(row) == 4 and row[3].startswith("Pattern more like ")
        else:
            assert len(row) == 3
