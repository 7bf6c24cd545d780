"""Predictor on a real tiny trained run: checkpoint-driven, batched, thread-safe, heatmaps, refusals."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pneumoscan.data.decoding import decode_image
from pneumoscan.data.transforms import Preprocessing, eval_transform
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.serving.predictor import Prediction, Predictor
from pneumoscan.serving.refusal import NotChestXrayError, Refusal
from synthetic import make_xray


@pytest.fixture(scope="module")
def predictor(tiny_run: Path) -> Predictor:
    return Predictor.from_run(tiny_run)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    return [make_xray(rng, i % 2 == 1) for i in range(8)]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_everything_served_comes_from_the_checkpoint(predictor, tiny_run):
    model, meta = load_checkpoint(tiny_run)
    assert predictor.threshold == meta["threshold"]
    assert predictor.class_names == meta["class_names"] == ["NORMAL", "PNEUMONIA"]
    assert predictor.model_version == meta["model_version"]
    assert predictor.preprocessing == Preprocessing.from_dict(meta["preprocessing"])
    assert predictor.gate is not None and predictor.gate.threshold == pytest.approx(meta["ood"]["threshold"])
    for (name, a), (_, b) in zip(predictor.model.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), name


def test_probabilities_equal_the_checkpoint_model_run_by_hand(predictor, tiny_run, images):
    model, meta = load_checkpoint(tiny_run)
    batch = torch.stack([eval_transform(Preprocessing.from_dict(meta["preprocessing"]))(im) for im in images])
    with torch.inference_mode():
        expected = torch.softmax(model(batch), 1)[:, 1].numpy()
    got = np.array([p.probability for p in predictor.predict_batch(images)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_labels_follow_the_threshold_and_the_model_separates_the_classes(predictor, images):
    preds = predictor.predict_batch(images)
    for p in preds:
        assert isinstance(p, Prediction)
        assert p.label == ("PNEUMONIA" if p.probability >= p.threshold else "NORMAL")
        assert 0.0 <= p.probability <= 1.0 and np.isfinite(p.ood_distance)
    pneumonia = [p.probability for i, p in enumerate(preds) if i % 2 == 1]
    normal = [p.probability for i, p in enumerate(preds) if i % 2 == 0]
    assert min(pneumonia) > max(normal)  # a trained model, not an ImageNet head


def test_a_batch_gives_the_same_answers_as_one_image_at_a_time(predictor, images):
    batch = predictor.predict_batch(images)
    single = [predictor.predict(im) for im in images]
    for b, s in zip(batch, single):
        assert b.label == s.label
        assert b.probability == pytest.approx(s.probability, abs=1e-6)
        assert b.ood_distance == pytest.approx(s.ood_distance, rel=1e-4)


def test_concurrent_calls_from_many_threads_give_the_sequential_answers(predictor, images):
    expected = [p.probability for p in predictor.predict_batch(images)]
    jobs = [(i % len(images), i % 3 == 0) for i in range(24)]  # some with heatmaps (hooks on the model)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda job: predictor.predict(images[job[0]], heatmap=job[1]), jobs))
    for (i, heat), r in zip(jobs, results):
        assert r.probability == pytest.approx(expected[i], abs=1e-6)
        assert (r.heatmap_png is not None) == heat
    assert not predictor.model.cam_layer._forward_hooks  # Grad-CAM released its hooks


def test_heatmap_is_a_png_overlay_with_the_image_aspect_ratio(predictor):
    image = make_xray(np.random.default_rng(3), True, 120, 90)
    pred = predictor.predict(image, heatmap=True)
    overlay = Image.open(io.BytesIO(pred.heatmap_png))
    assert overlay.format == "PNG" and overlay.mode == "RGB" and overlay.size == (120, 90)
    assert pred.heatmap_class == pred.label
    rgb = np.asarray(overlay, dtype=int)
    assert (rgb.max(-1) - rgb.min(-1)).mean() > 10  # coloured by the heat map, not the gray X-ray


def test_grad_cam_works_on_the_frozen_backbone_and_changes_nothing(predictor):
    from pneumoscan.serving.heatmap import grad_cam

    assert not any(p.requires_grad for p in predictor.model.backbone.parameters())
    before = {k: v.clone() for k, v in predictor.model.state_dict().items()}
    image = make_xray(np.random.default_rng(4), True)
    cams, logits = grad_cam(predictor.model, predictor.model.cam_layer, predictor.preprocess([image]), [1])
    crop = predictor.preprocessing.crop
    assert cams.shape == (1, crop, crop)
    assert np.isfinite(cams).all() and cams.max() > 0  # real gradients reached the frozen block
    assert torch.softmax(logits, 1)[0, 1].item() == pytest.approx(predictor.predict(image).probability, abs=1e-5)
    for k, v in predictor.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in predictor.model.parameters())


def test_screen_accepts_training_like_xrays_and_predicts_as_predict_does(predictor, images):
    decoded = decode_image(_png(images[1]))
    screened = predictor.screen(decoded)
    assert screened.probability == pytest.approx(predictor.predict(decoded.image).probability, abs=1e-6)


def test_screen_refuses_a_photograph_with_a_reason(predictor):
    from skimage import data as skdata

    decoded = decode_image(_png(Image.fromarray(skdata.astronaut())))
    with pytest.raises(NotChestXrayError) as info:
        predictor.screen(decoded)
    assert info.value.refusal.reason == "photograph"


def test_the_feature_gate_refuses_a_grayscale_photograph(predictor):
    from skimage import data as skdata

    decoded = decode_image(_png(Image.fromarray(skdata.camera())))
    assert predictor.check(decoded.image) is None  # passes the cheap checks ...
    with pytest.raises(NotChestXrayError) as info:
        predictor.screen(decoded)  # ... but not the model's own
    refusal = info.value.refusal
    assert refusal.reason == "out_of_distribution"
    assert refusal.detail["distance"] > refusal.detail["threshold"] == pytest.approx(predictor.gate.threshold, abs=1e-3)


def test_screen_batch_mixes_refusals_and_predictions_in_order(predictor, images):
    from pydicom.data import get_testdata_file

    ct = decode_image(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    blank = decode_image(_png(Image.new("L", (96, 96), 128)))
    good = decode_image(_png(images[0]))
    out = predictor.screen_batch([good, ct, blank, good], heatmap=True)
    assert [type(o) for o in out] == [Prediction, Refusal, Refusal, Prediction]
    assert (out[1].reason, out[2].reason) == ("ct_or_mr", "blank_image")
    assert out[0].heatmap_png is not None and out[0].probability == out[3].probability
