"""The score-distribution figure: one histogram per true class, each scaled to its own images."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from pneumoscan.evaluation import figures


def test_score_distribution_draws_each_class_as_a_share_of_its_own_images(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    y = np.array([0] * 30 + [1] * 90)  # the 1:3 imbalance of the Kermany data
    p = np.concatenate([rng.uniform(0.0, 0.4, 30), rng.uniform(0.6, 1.0, 90)])
    captured = {}
    real_save = figures._save

    def keep_axes(fig, path):
        captured["legend"] = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        captured["heights"] = [sum(b.get_height() for b in c) for c in fig.axes[0].containers]
        return real_save(fig, path)

    monkeypatch.setattr(figures, "_save", keep_axes)
    out = figures.score_distribution(y, p, 0.5, tmp_path / "scores.png", "Scores on test (n=120)")
    assert Image.open(out).size[0] > 300
    # Each class's bars sum to 1 (a share of that class), whatever its size.
    assert np.allclose(captured["heights"], [1.0, 1.0])
    assert captured["legend"][0].startswith("NORMAL (n=30, 0% at or above")
    assert captured["legend"][1].startswith("PNEUMONIA (n=90, 100% at or above")
    assert "threshold 0.500" in captured["legend"][2]
    plt.close("all")
