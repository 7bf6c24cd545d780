"""The subtype head's labels come from Kermany's file names only, and the head itself is a plain,
serialisable logistic regression on features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pneumoscan.models.subtype import SubtypeHead, sentence, subtype_label


@pytest.mark.parametrize(
    ("path", "label", "expected"),
    [
        ("train/PNEUMONIA/person1_bacteria_1.jpeg", None, "bacterial"),
        ("test/PNEUMONIA/person100_virus_184.jpeg", None, "viral"),
        ("train/PNEUMONIA/person447_virus_921_1.jpeg", None, "viral"),  # a real name with a second counter
        ("person12_Bacteria_44.png", "PNEUMONIA", "bacterial"),
        ("PNEUMONIA/person12_virus_44.png", "PNEUMONIA", "viral"),
    ],
)
def test_kermany_pneumonia_file_names_give_the_subtype(path, label, expected):
    assert subtype_label(path, label) == expected


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("train/NORMAL/IM-0115-0001.jpeg", None),  # normal images have no subtype
        ("train/NORMAL/person1_virus_1.jpeg", None),  # a subtype-like name in NORMAL is not believed
        ("person1_virus_1.jpeg", "NORMAL"),  # nor one whose split label is NORMAL
        ("pneumoniamnist/train/PNEUMONIA/000123.png", None),  # PneumoniaMNIST: no names
        ("external/padchest/PNEUMONIA/216840111366964012.png", "PNEUMONIA"),  # another source
        ("test/PNEUMONIA/patient_bacterial_1.jpeg", None),  # not Kermany's pattern
        ("test/PNEUMONIA/xperson1_virus_1.jpeg", None),
    ],
)
def test_images_without_the_kermany_name_have_no_subtype(path, label):
    assert subtype_label(path, label) is None


def _features(rng: np.random.Generator, n: int, viral: bool) -> np.ndarray:
    x = rng.normal(size=(n, 6))
    x[:, 2] += 2.0 if viral else -2.0
    return x


def test_the_head_separates_features_and_survives_serialisation():
    rng = np.random.default_rng(0)
    x = np.concatenate([_features(rng, 40, False), _features(rng, 25, True)])
    y = np.r_[np.zeros(40), np.ones(25)]
    head = SubtypeHead.fit(x, y, c=1.0, features="block_means")
    p = head.p_viral(np.concatenate([_features(rng, 20, False), _features(rng, 20, True)]))
    assert p.shape == (40,) and p[:20].mean() < 0.2 < 0.8 < p[20:].mean()
    assert roc_auc_score(np.r_[np.zeros(20), np.ones(20)], p) > 0.95
    again = SubtypeHead.from_dict(head.to_dict())
    assert again.features == "block_means" and np.allclose(again.p_viral(x), head.p_viral(x))


def test_describe_names_the_more_likely_pattern_with_its_own_probability():
    head = SubtypeHead(mean=np.zeros(1, np.float32), scale=np.ones(1, np.float32), coef=np.ones(1, np.float32),
                       intercept=0.0, threshold=0.4,
                       metrics={"test": {"accuracy": {"value": 0.8846, "ci_low": 0.85, "ci_high": 0.91}}})
    assert head.describe(0.9)["pattern"] == "viral" and head.describe(0.9)["probability"] == 0.9
    low = head.describe(0.25)
    assert low["pattern"] == "bacterial" and low["probability"] == 0.75 and low["head_test_accuracy"] == 0.8846
    assert low["wording"] == ("Pattern more like bacterial pneumonia (P(viral) = 0.25, viral from 0.40); this head was "
                              "right on 88% of test images; supports, does not replace, clinical judgement.")
    assert head.describe(0.4)["pattern"] == "viral"  # at the threshold, as the main answer's rule


def test_the_sentence_leaves_out_an_unmeasured_accuracy():
    assert sentence("viral", 0.61, 0.556, None) == (
        "Pattern more like viral pneumonia (P(viral) = 0.61, viral from 0.56); supports, does not replace, clinical "
        "judgement.")


def test_too_few_images_of_a_subtype_is_a_clear_error():
    x = np.random.default_rng(1).normal(size=(12, 3))
    with pytest.raises(ValueError, match="at least 5 bacterial and 5 viral"):
        SubtypeHead.fit(x, np.r_[np.zeros(9), np.ones(3)])
    with pytest.raises(ValueError, match="Invalid subtype features"):
        SubtypeHead(mean=x[0], scale=x[0], coef=x[0], intercept=0.0, features="pixels")
