"""Backbone registry and the two-class pneumonia classifier."""

from pneumoscan.models.net import PneumoniaNet
from pneumoscan.models.registry import WeightsUnavailableError, available_backbones, build_model

__all__ = ["PneumoniaNet", "WeightsUnavailableError", "available_backbones", "build_model"]
