"""``pneumoscan train --init-from RUN``: a child run starts from its parent's weights and records it;
a fixed-threshold run says so on its card (issue 11's bug)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from pneumoscan.api.app import load_model_card
from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.serving.predictor import Predictor


@pytest.fixture(scope="module")
def child_run(tiny_run, synthetic_dataset, tmp_path_factory) -> Path:
    """One epoch at learning rate 0 from the tiny run (so the weights must stay the parent's), with a
    fixed threshold; everything else comes from the parent's config.yaml."""
    out = tmp_path_factory.mktemp("child") / "run"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(out), "--init-from", str(tiny_run),
                 "--epochs", "1", "--device", "cpu", "--workers", "0", "--no-progress", "--set", "train.lr=0",
                 "--set", "eval.threshold_rule=fixed", "--set", "eval.fixed_threshold=0.3",
                 "--set", "eval.bootstrap=20"]) == 0
    return out


def test_a_child_run_starts_from_its_parents_weights_and_records_its_parent(child_run, tiny_run):
    parent_model, parent_meta = load_checkpoint(tiny_run)
    model, meta = load_checkpoint(child_run)
    for (name, a), b in zip(parent_model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name  # learning rate 0: every weight is the parent's, head included
    digest = hashlib.sha256((tiny_run / "checkpoint.pt").read_bytes()).hexdigest()
    expected = {"model_version": parent_meta["model_version"], "checkpoint_sha256": digest,
                "path": str(tiny_run.resolve())}
    assert meta["parent_run"] == expected
    card = json.loads((child_run / "model_card.json").read_text())
    assert card["parent_run"] == expected
    assert f"from run {parent_meta['model_version']}" in card["architecture"]
    assert meta["weights_origin"] == f"run {parent_meta['model_version']}"
    assert meta["preprocessing"] == parent_meta["preprocessing"]  # the parent's config.yaml was the default


def test_a_fixed_threshold_run_stores_the_threshold_it_used_and_its_card_says_so(child_run):
    _, meta = load_checkpoint(child_run)
    assert meta["threshold"] == pytest.approx(0.3)
    assert meta["threshold_rule"] == {"rule": "fixed", "fixed_threshold": 0.3}
    card = load_model_card(child_run, Predictor.from_run(child_run))
    assert card["threshold_rule"] == "fixed at 0.30"
    assert card["operating_point"]["label"] == "validation split (fixed 0.30)"


def test_init_from_a_run_of_another_backbone_is_refused_with_the_fix(tiny_run, synthetic_dataset, tmp_path, capsys):
    code = main(["train", "--data", str(synthetic_dataset), "--out", str(tmp_path / "x"), "--init-from",
                 str(tiny_run), "--backbone", "resnet18", "--no-progress", "--device", "cpu", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "is a efficientnet_lite0 run but the config asks for resnet18" in err
    assert "--backbone efficientnet_lite0" in err and "Traceback" not in err
