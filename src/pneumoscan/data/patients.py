"""Patient ids from the Kermany chest_xray file names, and patient-grouped validation splits."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

_PERSON = re.compile(r"^(person\d+)_")
_NORMAL = re.compile(r"^((?:NORMAL2-)?IM-\d+)-")


def patient_id(file_name: str) -> str:
    """The patient a Kermany file belongs to.

    ``person1650_virus_2852.jpeg`` -> ``person1650``; ``IM-0115-0001.jpeg`` -> ``IM-0115``;
    ``NORMAL2-IM-1345-0001.jpeg`` -> ``NORMAL2-IM-1345``. Other names are their own patient
    (the file stem), which is the safe default for data from elsewhere.
    """
    name = file_name.rsplit("/", 1)[-1]
    for pattern in (_PERSON, _NORMAL):
        match = pattern.match(name)
        if match:
            return match.group(1)
    return name.rsplit(".", 1)[0]


def grouped_split(
    labels: Sequence[int], groups: Sequence[str], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split indices into (train, val), stratified by label, never splitting a group.

    Args:
        labels: class index per item.
        groups: patient id per item; all items of one patient land on the same side.
        val_fraction: share of items for validation (0 < f < 0.5).
        seed: makes the split reproducible.

    Raises:
        ValueError: a fraction outside (0, 0.5) or too few patients to split.
    """
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must be between 0 and 0.5, got {val_fraction}.")
    n_splits = max(2, round(1.0 / val_fraction))
    if len(set(groups)) < n_splits:
        raise ValueError(
            f"Only {len(set(groups))} patients: too few to carve a {val_fraction:.0%} validation split. "
            "Provide a val/ folder instead."
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    dummy = np.zeros(len(labels))
    train_idx, val_idx = next(splitter.split(dummy, np.asarray(labels), np.asarray(groups)))
    return sorted(train_idx.tolist()), sorted(val_idx.tolist())
