"""The YAML presets in configs/ load, and each one's model builds with the stages it says it trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumoscan.config import load_config
from pneumoscan.models.registry import build_model

PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_the_repo_ships_the_paper_preset_and_the_offline_ones():
    names = {p.stem for p in PRESETS}
    assert {"seed-vgg16", "efficientnet-lite0-probe"} <= names


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_each_preset_loads_and_builds_its_model(preset):
    cfg = load_config(preset)
    # weights "none": the architecture and freezing are what is checked here, not the download.
    model = build_model(cfg.model.backbone, weights="none", unfreeze_last=cfg.model.unfreeze_last)
    trainable = [b for b in model.blocks if any(p.requires_grad for p in b.parameters())]
    assert len(trainable) == cfg.model.unfreeze_last
    assert all(p.requires_grad for p in model.head.parameters())
    if cfg.model.unfreeze_last == len(model.blocks):
        assert all(p.requires_grad for p in model.parameters())


def test_an_unknown_key_in_a_preset_names_the_valid_ones(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ValueError, match="Unknown config key 'train.epoch'.*epochs"):
        load_config(bad)
