"""Matplotlib figures for the run folder (PNG, Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from pneumoscan import CLASS_NAMES  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def class_distribution(counts: dict[str, dict[str, int]], path: Path) -> Path:
    """Fig. 1: images per class in each split."""
    splits = list(counts)
    x = np.arange(len(splits))
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, cls in enumerate(CLASS_NAMES):
        vals = [counts[s].get(cls, 0) for s in splits]
        bars = ax.bar(x + (i - 0.5) * 0.38, vals, 0.38, label=cls, color=("#4c9be8", "#e8794c")[i])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, splits)
    ax.set_ylabel("images")
    ax.set_title("Class distribution per split")
    ax.legend()
    return _save(fig, path)


def image_grid(
    images: Sequence[np.ndarray], titles: Sequence[str], path: Path, colors: Sequence[str] | None = None,
    suptitle: str = "", n: int = 6,
) -> Path:
    """An n x n grid of images (HxW or HxWx3 arrays in [0, 1] or uint8) with coloured titles."""
    fig, axes = plt.subplots(n, n, figsize=(2 * n, 2.2 * n))
    for k, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="gray")
            ax.set_title(titles[k], fontsize=8, color=colors[k] if colors else "black")
    if suptitle:
        fig.suptitle(suptitle)
    return _save(fig, path)


def tensor_to_image(t: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised CHW tensor back to an HxWx3 array in [0, 1] (denormalised for display)."""
    m = torch.tensor(mean).view(-1, 1, 1)
    s = torch.tensor(std).view(-1, 1, 1)
    return (t.cpu() * s + m).clamp(0, 1).permute(1, 2, 0).numpy()


def prediction_grid(
    tensors: Sequence[torch.Tensor], y_true: Sequence[int], prob: Sequence[float], threshold: float,
    mean: Sequence[float], std: Sequence[float], path: Path,
) -> Path:
    """III.J: test images with predicted/true labels, titles green when right, red when wrong."""
    images, titles, colors = [], [], []
    for t, y, p in zip(tensors, y_true, prob):
        pred = int(p >= threshold)
        images.append(tensor_to_image(t, mean, std))
        titles.append(f"pred {CLASS_NAMES[pred]} ({p:.2f})\ntrue {CLASS_NAMES[int(y)]}")
        colors.append("green" if pred == int(y) else "red")
    return image_grid(images, titles, path, colors, suptitle=f"Test predictions (threshold {threshold:.3f})")


def confusion_matrix_figure(cm: Sequence[Sequence[int]], path: Path, title: str = "Confusion matrix") -> Path:
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.imshow(cm, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=14)
    ax.set_xticks([0, 1], [f"pred {c}" for c in CLASS_NAMES])
    ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
    ax.set_title(title)
    return _save(fig, path)


def roc_figure(y: np.ndarray, prob: np.ndarray, auc: dict, threshold: float, path: Path) -> Path:
    fpr, tpr, thr = roc_curve(y, prob)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, lw=2, label=f"AUC {auc['value']:.3f} (95% CI {auc['ci_low']:.3f}-{auc['ci_high']:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    pred = prob >= threshold
    sens = pred[y == 1].mean() if (y == 1).any() else np.nan
    fp_rate = pred[y == 0].mean() if (y == 0).any() else np.nan
    ax.plot([fp_rate], [sens], "o", color="red", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def score_distribution(y: np.ndarray, prob: np.ndarray, threshold: float, path: Path, title: str) -> Path:
    """Histogram of P(pneumonia) per true class, with the decision threshold.

    Shows what one operating point hides: how far each class sits from the threshold, and whether
    normal images of a new split score higher than those the threshold was chosen on (a shift).
    """
    y, prob = np.asarray(y), np.asarray(prob, dtype=float)
    bins = np.linspace(0.0, 1.0, 26)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, color in ((0, "tab:blue"), (1, "tab:orange")):
        scores = prob[y == label]
        if len(scores):
            # Each class as a share of its own images, so a 1:3 imbalance does not hide the smaller class.
            weights = np.full(len(scores), 1.0 / len(scores))
            above = (scores >= threshold).mean()
            ax.hist(scores, bins=bins, weights=weights, alpha=0.6, color=color,
                    label=f"{CLASS_NAMES[label]} (n={len(scores)}, {above:.0%} at or above threshold)")
    ax.axvline(threshold, color="red", lw=1.5, ls="--", label=f"threshold {threshold:.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(pneumonia)")
    ax.set_ylabel("share of the class's images")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center")
    return _save(fig, path)


def training_curves(history: Sequence[dict], path: Path) -> Path:
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(epochs, [h["val_loss"] for h in history], "o-", label="val")
    a.set_title("loss")
    a.set_xlabel("epoch")
    a.legend()
    b.plot(epochs, [h["train_accuracy"] for h in history], "o-", label="train accuracy")
    b.plot(epochs, [h["val_accuracy"] for h in history], "o-", label="val accuracy")
    b.plot(epochs, [h["val_auc"] for h in history], "o-", label="val AUC")
    b.set_xlabel("epoch")
    b.set_title("accuracy / AUC")
    b.legend(fontsize=8)
    return _save(fig, path)


def reliability_diagram(curve: dict, brier: dict, path: Path, title: str) -> Path:
    """Observed share of pneumonia against the mean predicted probability, per probability bin.

    Points on the diagonal mean the probabilities can be read as frequencies; below it, the model
    over-calls pneumonia. Marker area follows the images per bin; the Brier score is in the legend.
    """
    fig, ax = plt.subplots(figsize=(4.6, 4.6))
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfectly calibrated")
    counts = np.asarray(curve["counts"], dtype=float)
    sizes = 20 + 180 * counts / max(counts.max(), 1)
    brier_text = f"Brier {brier['value']:.3f}"
    if brier.get("ci_low") is not None:
        brier_text += f" (95% CI {brier['ci_low']:.3f}-{brier['ci_high']:.3f})"
    ax.plot(curve["predicted"], curve["observed"], "-", color="tab:purple", lw=1.5)
    ax.scatter(curve["predicted"], curve["observed"], s=sizes, color="tab:purple", zorder=3, label=brier_text)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean predicted P(pneumonia) in the bin")
    ax.set_ylabel("share with pneumonia in the bin")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def refusal_bars(by_class: dict[str, dict], path: Path, title: str) -> Path:
    """Per label: images answered and refused, the refusals split by reason (stacked bars)."""
    labels = list(by_class)
    reasons = sorted({r for c in by_class.values() for r in c["refused"]})
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(labels) + 2.5), 3.8))
    bottom = np.zeros(len(labels))
    answered = np.asarray([by_class[c]["answered"] for c in labels], dtype=float)
    ax.bar(labels, answered, color="tab:green", label="answered")
    bottom += answered
    colours = plt.get_cmap("tab10")
    for k, reason in enumerate(reasons):
        vals = np.asarray([by_class[c]["refused"].get(reason, 0) for c in labels], dtype=float)
        ax.bar(labels, vals, bottom=bottom, color=colours((k + 3) % 10), label=f"refused: {reason}")
        bottom += vals
    for x, total in enumerate(bottom):
        ax.text(x, total, f"n={int(total)}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, max(bottom.max(), 1) * 1.12)
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def operating_points_figure(rows: Sequence[dict], threshold: float, path: Path) -> Path:
    """Sensitivity and specificity of the answered images across thresholds, the run's marked."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    t = [r["threshold"] for r in rows]
    for key, colour in (("sensitivity", "tab:orange"), ("specificity", "tab:blue")):
        vals = [np.nan if r[key] is None else r[key] for r in rows]
        if not np.all(np.isnan(vals)):
            ax.plot(t, vals, "o-", ms=3, color=colour, label=key)
    ax.plot(t, [r["called_pneumonia"] for r in rows], ":", color="grey", label="share called pneumonia")
    ax.axvline(threshold, color="red", lw=1.5, ls="--", label=f"run threshold {threshold:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("threshold on P(pneumonia)")
    ax.set_title("Operating points")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)
