"""The serving runtime (ONNX Runtime) and the CAM heatmap against their references, on the shipped
model and the committed samples: same probabilities, same block means, same heatmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pneumoscan.data.decoding import decode_image
from pneumoscan.models.registry import build_model
from pneumoscan.serving import heatmap
from pneumoscan.serving.heatmap import class_activation_maps, grad_cam, linear_cam_weights
from pneumoscan.serving.predictor import Predictor
from pneumoscan.serving.runtime import OnnxRuntime, ServingGraph, TorchRuntime, make_runtime, supports

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "runs" / "default"
SAMPLES = sorted((REPO / "samples").glob("*.jpeg")) + sorted((REPO / "samples").glob("*.dcm"))


@pytest.fixture(scope="module")
def shipped() -> tuple[Predictor, Predictor]:
    """The shipped run served by ONNX Runtime and by eager PyTorch."""
    return Predictor.from_run(SHIPPED, runtime="onnx"), Predictor.from_run(SHIPPED, runtime="torch")


@pytest.fixture(scope="module")
def batch(shipped) -> torch.Tensor:
    fast, _ = shipped
    return fast.preprocess([decode_image(p.read_bytes()).image for p in SAMPLES])


def test_the_shipped_model_is_served_by_onnx_runtime_with_cam(shipped):
    fast, reference = shipped
    assert isinstance(fast.runtime, OnnxRuntime) and isinstance(reference.runtime, TorchRuntime)
    assert fast.cam_weights is not None
    assert np.array_equal(fast.cam_weights, fast.model.classifier.weight.detach().numpy())


def test_onnx_runtime_gives_the_eager_probabilities_within_1e4_on_the_committed_samples(shipped):
    fast, reference = shipped
    images = [decode_image(p.read_bytes()).image for p in SAMPLES]
    p_fast = np.array([p.probability for p in fast.predict_batch(images)])
    p_ref = np.array([p.probability for p in reference.predict_batch(images)])
    assert len(p_fast) == len(SAMPLES) == 6
    assert np.abs(p_fast - p_ref).max() <= 1e-4
    # and the same labels (the answers, not only the numbers)
    assert [p.label for p in fast.predict_batch(images)] == [p.label for p in reference.predict_batch(images)]


def test_one_pass_gives_the_features_block_means_and_logits_of_the_eager_model(shipped, batch):
    fast, _ = shipped
    model = fast.model
    with torch.inference_mode():
        feats, means = model.features_and_block_means(batch)
        logits = model.head(feats)
        last = model.frozen_part()[: list(model.backbone).index(model.cam_layer) + 1](batch)
    out = fast.runtime.run(batch)
    assert out.block_means.shape == means.shape and out.last.shape == last.shape
    np.testing.assert_allclose(out.features, feats.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out.block_means, means.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out.logits, logits.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out.last, last.numpy(), rtol=1e-3, atol=1e-3)


def test_cam_correlates_with_the_library_grad_cam_for_the_linear_head(shipped, batch):
    fast, _ = shipped
    out = fast.runtime.run(batch)
    targets = out.logits.argmax(1).tolist()
    cams = class_activation_maps(out.last, fast.cam_weights, targets, (batch.shape[-1], batch.shape[-2]))
    library, _ = grad_cam(fast.model, fast.model.cam_layer, batch, targets)
    assert cams.shape == library.shape == (len(SAMPLES), 224, 224)
    for cam, ref in zip(cams, library):
        assert ref.std() > 0  # a real map, not a constant
        assert np.corrcoef(cam.ravel(), ref.ravel())[0, 1] >= 0.99


def test_a_heatmap_request_costs_no_second_pass_and_no_backward(shipped, monkeypatch):
    fast, _ = shipped

    def no_grad_cam(*_args, **_kwargs):
        raise AssertionError("Grad-CAM ran for a linear head")

    monkeypatch.setattr("pneumoscan.serving.predictor.grad_cam", no_grad_cam)
    passes = fast._coalescer.passes
    decoded = decode_image(SAMPLES[0].read_bytes())
    pred = fast.screen(decoded, heatmap=True)
    assert fast._coalescer.passes == passes + 1
    assert pred.heatmap_png.startswith(b"\x89PNG") and pred.heatmap_class == pred.label
    assert pred.probability == fast.screen(decoded).probability


def test_the_paper_vgg16_runs_through_the_same_graph_with_grad_cam_as_its_heatmap():
    torch.manual_seed(0)
    vgg = build_model("vgg16", weights="none").eval()
    assert supports(vgg)
    assert linear_cam_weights(vgg) is None  # fc6/fc7 after the last conv block: CAM would not be exact
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        feats, means = vgg.features_and_block_means(x)
        outs = ServingGraph(vgg)(x)
    assert torch.equal(outs[0], feats) and torch.equal(outs[1], means)
    assert outs[3].shape == (1, 512, 7, 7)


def test_an_unknown_runtime_is_refused_with_the_choices(shipped):
    with pytest.raises(ValueError, match="onnx, torch"):
        make_runtime(shipped[0].model, "tensorrt")


def test_a_model_outside_the_sequential_layout_is_served_eagerly():
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 3)

        def forward(self, x):
            return self.conv(x).mean((2, 3))

    assert make_runtime(Plain(), "onnx") is None
    assert linear_cam_weights(Plain()) is None
    assert heatmap._is_global_average_pool(torch.nn.AdaptiveAvgPool2d(1))
    assert not heatmap._is_global_average_pool(torch.nn.AdaptiveAvgPool2d(7))


def test_loading_a_predictor_leaves_onnx_runtime_unimported_until_the_first_pass():
    """gunicorn loads the app before forking: ONNX Runtime's process-wide state must be made in the
    worker (made in the master, the worker aborted at exit on a thread it never had)."""
    import subprocess
    import sys

    code = (
        "import sys; from pneumoscan.serving.predictor import Predictor\n"
        f"p = Predictor.from_run({str(SHIPPED)!r}, runtime='onnx')\n"
        "before = 'onnxruntime' in sys.modules\n"
        "p.warm_up()\n"
        "print(before, 'onnxruntime' in sys.modules, p.runtime.kind)\n"
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "onnx"]
