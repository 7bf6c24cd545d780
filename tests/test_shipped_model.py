"""The committed default model: its test metrics re-measured from the run folder equal the README's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pneumoscan.training.run import evaluate_run

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUN = REPO / "runs" / "default"


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


@pytest.mark.slow
def test_readme_reports_the_metrics_that_evaluate_re_measures_on_the_624_test_images(shared_chest_xray, tmp_path):
    run = tmp_path / "default"
    shutil.copytree(DEFAULT_RUN, run)  # evaluate rewrites metrics and figures: keep the repo clean
    m = evaluate_run(run, shared_chest_xray, "test", progress=False, n_boot=1000)
    committed = json.loads((DEFAULT_RUN / "metrics.json").read_text())["test"]
    assert m["n"] == 624
    assert m["confusion_matrix"] == committed["confusion_matrix"]
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "runs/default" in line and line.startswith("| PneumoScan"))
    for key in ("accuracy", "sensitivity", "specificity"):
        assert pct(m[key]["value"]) in row, (key, row)
        assert f"{pct(m[key]['ci_low'])}–{pct(m[key]['ci_high'])}" in row, (key, row)
    assert f"{m['auc']['value']:.3f}" in row


def test_the_shipped_run_folder_carries_everything_serving_needs():
    names = {p.name for p in DEFAULT_RUN.iterdir()}
    assert {"checkpoint.pt", "model_card.json", "metrics.json", "config.yaml", "splits.json", "history.json"} <= names
    assert (DEFAULT_RUN / "checkpoint.pt").stat().st_size < 20 * 1024 * 1024
    card = json.loads((DEFAULT_RUN / "model_card.json").read_text())
    assert card["backbone"] == "efficientnet_lite0"
    assert card["training"]["command"].startswith("pneumoscan train")


def _subtype_row(readme: str, split: str) -> str:
    return next(line for line in readme.splitlines()
                if line.startswith(("| PneumoScan subtype head", "| the same head")) and split in line)


def test_readme_reports_the_shipped_subtype_heads_metrics_from_its_card():
    head = json.loads((DEFAULT_RUN / "model_card.json").read_text())["subtype_head"]
    readme = (REPO / "README.md").read_text()
    assert head["fitted_on"]["test"] == {"bacterial": 242, "viral": 148}
    for split, words in (("test", "runs/default"), ("validation", "validation split")):
        m, row = head["metrics"][split], _subtype_row(readme, words)
        for key in ("accuracy", "sensitivity", "specificity"):
            assert f"{pct(m[key]['value'])} ({pct(m[key]['ci_low'])}–{pct(m[key]['ci_high'])})" in row, (key, row)
        assert f"{m['auc']['value']:.3f} ({m['auc']['ci_low']:.3f}–{m['auc']['ci_high']:.3f})" in row


@pytest.mark.slow
def test_the_shipped_subtype_head_re_measured_on_the_test_pneumonias_equals_its_card(shared_chest_xray):
    from pneumoscan.data.transforms import Preprocessing
    from pneumoscan.evaluation.metrics import evaluate_predictions
    from pneumoscan.models.checkpoint import load_checkpoint
    from pneumoscan.models.subtype import SubtypeHead
    from pneumoscan.training.population import pass_features
    from pneumoscan.training.subtype import labelled

    model, meta = load_checkpoint(DEFAULT_RUN)
    head = SubtypeHead.from_dict(meta["subtype_head"])
    ids, viral = labelled(json.loads((DEFAULT_RUN / "splits.json").read_text())["test"])
    pooled, means = pass_features(model, Preprocessing.from_dict(meta["preprocessing"]),
                                  [shared_chest_xray / i for i in ids], "test", progress=False)
    m = evaluate_predictions(viral, head.p_viral(means if head.features == "block_means" else pooled),
                             head.threshold, n_boot=1000)
    assert m["confusion_matrix"] == head.metrics["test"]["confusion_matrix"]
    assert abs(m["auc"]["value"] - head.metrics["test"]["auc"]["value"]) < 1e-3
