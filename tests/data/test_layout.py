"""Each broken dataset layout gives its own clear error; `pneumoscan data check` lists them all."""

from __future__ import annotations

import shutil

import pytest

from pneumoscan.cli import main
from pneumoscan.data.datasets import load_splits
from pneumoscan.data.layout import DatasetError, check_dataset
from synthetic import write_dataset


@pytest.fixture
def good(tmp_path):
    return write_dataset(tmp_path / "ds", {"train": 4, "val": 2, "test": 2}, size=32)


def test_a_good_dataset_has_no_problems_and_counts_each_class(good):
    report = check_dataset(good)
    assert report.ok
    assert report.counts == {s: {"NORMAL": n, "PNEUMONIA": n} for s, n in (("train", 4), ("val", 2), ("test", 2))}


def _missing_split(root):
    shutil.rmtree(root / "test")


def _missing_class(root):
    shutil.rmtree(root / "train" / "NORMAL")


def _unexpected_class(root):
    (root / "train" / "COVID").mkdir()


def _empty_class(root):
    for f in (root / "val" / "PNEUMONIA").iterdir():
        f.unlink()


def _non_image(root):
    (root / "train" / "NORMAL" / "notes.txt").write_text("hello")


def _unreadable(root):
    (root / "test" / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")


def _stray_file(root):
    (root / "train" / "labels.csv").write_text("a,b")


@pytest.mark.parametrize(
    ("breaker", "expected"),
    [
        (_missing_split, "Missing split folder"),
        (_missing_class, "Missing class folder"),
        (_unexpected_class, "Unexpected class folder"),
        (_empty_class, "Empty class folder"),
        (_non_image, "Not an image file"),
        (_unreadable, "Unreadable image"),
        (_stray_file, "Stray file"),
    ],
)
def test_each_broken_layout_names_the_problem_and_the_file(good, breaker, expected):
    breaker(good)
    report = check_dataset(good)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
    with pytest.raises(DatasetError, match=expected):
        report.raise_if_bad()


def test_a_missing_val_folder_is_a_note_not_a_problem(good):
    shutil.rmtree(good / "val")
    report = check_dataset(good)
    assert report.ok and any("carved" in n for n in report.notes)


def test_data_check_lists_every_problem_at_once_and_exits_1(good, capsys):
    _unexpected_class(good)
    _missing_class(good)
    (good / "val" / "PNEUMONIA" / "notes.txt").write_text("hello")
    assert main(["data", "check", str(good)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "COVID" in err and "notes.txt" in err and "NORMAL" in err


def test_data_check_prints_class_counts(good, capsys):
    assert main(["data", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "train NORMAL: 4  PNEUMONIA: 4  (total 8)" in out


def test_loading_a_broken_dataset_raises_with_every_problem(good):
    _unexpected_class(good)
    _missing_split(good)
    with pytest.raises(DatasetError) as info:
        load_splits(good)
    assert len(info.value.problems) == 2


def test_training_on_a_broken_dataset_exits_2_with_a_message(good, tmp_path, capsys):
    _missing_split(good)
    assert main(["train", "--data", str(good), "--out", str(tmp_path / "run"), "--weights", "none"]) == 2
    assert "Missing split folder" in capsys.readouterr().err
