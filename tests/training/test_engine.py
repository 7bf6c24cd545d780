"""train_model: cached features give the same head, resume continues exactly, early stopping stops."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pneumoscan.data.datasets import load_splits
from pneumoscan.data.transforms import Preprocessing, eval_transform
from pneumoscan.models import build_model
from pneumoscan.training.engine import class_weights, make_optimizer, train_model
from pneumoscan.training.features import extract_features, feature_loader

CPU = torch.device("cpu")
SPEC = Preprocessing(canonical=48, resize=56, crop=48)


def _data(synthetic_dataset):
    splits = load_splits(synthetic_dataset, min_val_size=4)
    tf = eval_transform(SPEC)
    return splits.train.with_transform(tf), splits.val.with_transform(tf)


@pytest.mark.parametrize("unfreeze_last", [0, 1])
def test_cached_feature_training_gives_the_same_weights_as_training_on_images(synthetic_dataset, unfreeze_last):
    train, val = _data(synthetic_dataset)
    results = []
    for cached in (False, True):
        torch.manual_seed(0)
        model = build_model("efficientnet_lite0", weights="imagenet", unfreeze_last=unfreeze_last)
        if cached:
            plain = lambda ds: DataLoader(ds, batch_size=8)  # noqa: E731
            f_tr, y_tr = extract_features(model.frozen_part(), plain(train), CPU, progress=False)
            f_va, y_va = extract_features(model.frozen_part(), plain(val), CPU, progress=False)
            loaders = {"train": feature_loader(f_tr, y_tr, 8, True, torch.Generator().manual_seed(5)),
                       "val": feature_loader(f_va, y_va, 8, False, None)}
            target = model.trainable_part()
        else:
            shuffled = DataLoader(train, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(5))
            loaders = {"train": shuffled,
                       "val": DataLoader(val, batch_size=8)}
            target = model
        opt = make_optimizer(target, "sgd", 0.01, 0.9, 0.0, head=model.head, backbone_lr_scale=0.1)
        train_model(target, loaders, nn.CrossEntropyLoss(), opt, None, 2, CPU, progress=False)
        results.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
    assert results[0].keys() == results[1].keys() and len(results[0]) >= 2
    for name in results[0]:
        assert torch.allclose(results[0][name], results[1][name], atol=1e-4), name


def _toy_loaders(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g)
    y = (x[:, 0] + 0.3 * torch.randn(64, generator=g) > 0).long()
    return {"train": DataLoader(TensorDataset(x[:48], y[:48]), batch_size=8, shuffle=True,
                                generator=torch.Generator().manual_seed(1)),
            "val": DataLoader(TensorDataset(x[48:], y[48:]), batch_size=8)}


def _fit(epochs, state_path=None, patience=0, monitor="loss"):
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    return train_model(model, _toy_loaders(), nn.CrossEntropyLoss(), opt, sched, epochs, CPU, monitor=monitor,
                       patience=patience, state_path=state_path, progress=False)


def test_a_resumed_run_ends_where_an_uninterrupted_run_ends(tmp_path):
    straight = _fit(5)
    state = tmp_path / "train_state.pt"
    _fit(3, state_path=state)  # "interrupted" after 3 epochs
    resumed = _fit(5, state_path=state)
    assert len(resumed.history) == 5
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in straight.history]
    assert torch.allclose(resumed.model.weight, straight.model.weight)
    assert resumed.best_epoch == straight.best_epoch


def test_history_has_both_phases_and_the_best_epoch_weights_are_kept():
    result = _fit(4, monitor="auc")
    row = result.history[0]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auc", "lr", "epoch"} <= set(row)
    assert result.best_score == max(h["val_auc"] for h in result.history)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # never improves
    result = train_model(model, _toy_loaders(), nn.CrossEntropyLoss(), opt, None, 20, CPU, monitor="loss",
                         patience=3, progress=False)
    assert result.stopped_early and len(result.history) == 4 and result.best_epoch == 1


def test_class_weights_balance_the_one_to_three_imbalance():
    w = class_weights([0] * 25 + [1] * 75)
    assert torch.allclose(w, torch.tensor([2.0, 2 / 3]))
