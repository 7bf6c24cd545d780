"""A tiny train -> evaluate -> predict on synthetic data writes every run-folder file."""

from __future__ import annotations

import json

import yaml

from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint

RUN_FILES = {"config.yaml", "checkpoint.pt", "model_card.json", "history.json", "metrics.json", "splits.json"}
FIGURES = {"class_distribution.png", "sample_images.png", "test_predictions.png", "confusion_matrix.png",
           "roc_curve.png", "training_curves.png", "score_distribution.png",
           "score_distribution_model_selection.png"}


def test_train_writes_every_file_serving_needs(tiny_run):
    assert RUN_FILES <= {p.name for p in tiny_run.iterdir()}
    assert FIGURES <= {p.name for p in (tiny_run / "figures").iterdir()}
    assert not (tiny_run / "train_state.pt").exists()
    _, meta = load_checkpoint(tiny_run)
    assert meta["class_names"] == ["NORMAL", "PNEUMONIA"]
    assert meta["preprocessing"]["crop"] == 64 and meta["preprocessing"]["resize"] == 72
    assert 0.0 <= meta["threshold"] <= 1.0 and meta["ood"]["threshold"] > 0
    card = json.loads((tiny_run / "model_card.json").read_text())
    assert card["training_data"]["fingerprint"].startswith("sha256:")
    assert card["training_data"]["counts"]["train"] == {"NORMAL": 24, "PNEUMONIA": 24}
    assert "not a diagnosis" in card["intended_use"].lower()
    for k in ("accuracy", "auc", "sensitivity", "specificity"):
        m = card["metrics"]["test"][k]
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert card["training"]["command"].startswith("pneumoscan train")
    cfg = yaml.safe_load((tiny_run / "config.yaml").read_text())
    assert cfg["model"]["backbone"] == "efficientnet_lite0" and cfg["data"]["image_size"] == 64
    splits = json.loads((tiny_run / "splits.json").read_text())
    assert len(splits["train"]) == 48 and len(splits["val"]) == 12 and len(splits["test"]) == 12
    assert len(json.loads((tiny_run / "history.json").read_text())) >= 1


def test_the_tiny_model_learns_the_synthetic_task(tiny_run):
    m = json.loads((tiny_run / "metrics.json").read_text())["test"]
    assert m["auc"]["value"] >= 0.8


def test_evaluate_re_measures_and_rewrites_metrics(tiny_run, synthetic_dataset, capsys):
    metrics_path = tiny_run / "metrics.json"
    metrics_path.write_text(json.dumps({"model_selection": json.loads(metrics_path.read_text())["model_selection"]}))
    (tiny_run / "figures" / "confusion_matrix.png").unlink()
    assert main(["evaluate", str(tiny_run), "--data", str(synthetic_dataset), "--split", "test",
                 "--no-progress", "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "95% CI" in out
    assert "test" in json.loads(metrics_path.read_text())
    assert (tiny_run / "figures" / "confusion_matrix.png").exists()


def test_predict_prints_one_line_per_image_and_json_on_request(tiny_run, synthetic_dataset, capsys):
    images = sorted((synthetic_dataset / "test" / "PNEUMONIA").glob("*.png"))[:2]
    images += sorted((synthetic_dataset / "test" / "NORMAL").glob("*.png"))[:1]
    assert main(["predict", str(tiny_run), *map(str, images)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    path, label, prob = lines[0].split("\t")
    assert path == str(images[0]) and label in ("NORMAL", "PNEUMONIA") and 0 <= float(prob) <= 1
    assert main(["predict", str(tiny_run), "--json", str(images[0])]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] == label and abs(row["probability"] - float(prob)) < 1e-4 and "threshold" in row


def test_predict_reports_a_non_image_without_a_stack_trace(tiny_run, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["predict", str(tiny_run), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error" in out and "Traceback" not in out
