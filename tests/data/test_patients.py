"""Patient ids from file names, and a validation split that never splits a patient."""

from __future__ import annotations

import numpy as np
import pytest

from pneumoscan.data.datasets import load_splits
from pneumoscan.data.patients import grouped_split, patient_id
from synthetic import write_dataset


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("person1650_virus_2852.jpeg", "person1650"),
        ("person1650_bacteria_4373.jpeg", "person1650"),
        ("IM-0115-0001.jpeg", "IM-0115"),
        ("NORMAL2-IM-1345-0001.jpeg", "NORMAL2-IM-1345"),
        ("NORMAL2-IM-0652-0001-0002.jpeg", "NORMAL2-IM-0652"),
        ("train/NORMAL/IM-0117-0001.jpeg", "IM-0117"),
        ("scan_42.png", "scan_42"),
    ],
)
def test_patient_id_is_read_from_the_kermany_file_name(name, patient):
    assert patient_id(name) == patient


def test_grouped_split_puts_no_patient_on_both_sides_and_keeps_both_classes():
    rng = np.random.default_rng(1)
    groups = [f"p{i // 3}" for i in range(300)]  # three images per patient
    labels = [int(int(g[1:]) % 4 != 0) for g in groups]  # ~1:3 like the real data
    tr, va = grouped_split(labels, groups, 0.2, seed=7)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 300
    assert {groups[i] for i in tr}.isdisjoint({groups[i] for i in va})
    assert {labels[i] for i in va} == {0, 1}
    assert 0.12 < len(va) / 300 < 0.28
    assert grouped_split(labels, groups, 0.2, seed=7) == (tr, va)  # seeded
    assert grouped_split(labels, groups, 0.2, seed=8) != (tr, va)
    del rng


def test_small_val_folder_is_replaced_by_a_patient_grouped_carve_out(tmp_path):
    root = write_dataset(tmp_path / "ds", {"train": 40, "val": 2, "test": 2}, size=32)
    splits = load_splits(root, val_fraction=0.2, min_val_size=10, seed=3)
    assert splits.val_source.startswith("carved")
    train_patients = {patient_id(i) for i in splits.train.ids}
    val_patients = {patient_id(i) for i in splits.val.ids}
    assert train_patients.isdisjoint(val_patients)
    assert all(i.startswith("train/") for i in splits.val.ids)
    manifest = splits.manifest()
    assert {e["id"] for e in manifest["val"]} == set(splits.val.ids)


def test_grouped_split_refuses_too_few_patients():
    with pytest.raises(ValueError, match="too few"):
        grouped_split([0, 1, 0], ["a", "b", "a"], 0.1, 0)
