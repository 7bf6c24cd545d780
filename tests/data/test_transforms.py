"""Transforms: shapes and values on synthetic images; squashed and original-aspect copies agree."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from pneumoscan.data.datasets import npz_split
from pneumoscan.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    data_transforms,
    eval_transform,
)
from synthetic import make_xray


def test_eval_transform_gives_3x224x224_with_hand_computed_values_on_a_flat_grey_image():
    t = eval_transform(Preprocessing())(Image.new("L", (300, 200), 128))
    assert t.shape == (3, 224, 224)
    for c in range(3):
        expected = (128 / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert torch.allclose(t[c], torch.full((224, 224), expected), atol=1e-5)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16"])
def test_every_image_mode_becomes_three_equal_channels(mode):
    rng = np.random.default_rng(0)
    gray = make_xray(rng, True, 120, 100)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    else:
        img = gray.convert(mode)
    t = eval_transform(Preprocessing())(img)
    assert t.shape == (3, 224, 224) and torch.isfinite(t).all()
    d = Preprocessing()
    raw = [t[c] * d.std[c] + d.mean[c] for c in range(3)]
    assert torch.allclose(raw[0], raw[1], atol=1e-5) and torch.allclose(raw[1], raw[2], atol=1e-5)


def test_a_squashed_copy_and_the_original_aspect_image_give_nearly_the_same_tensor():
    rng = np.random.default_rng(3)
    original = make_xray(rng, True, 1400, 1000)  # a wide original, like the Kaggle val images
    buf = io.BytesIO()
    original.resize((224, 224), Image.BILINEAR).convert("RGB").save(buf, "JPEG", quality=75)
    squashed = Image.open(io.BytesIO(buf.getvalue()))  # how the shared training copy was made
    tf = eval_transform(Preprocessing())
    diff = (tf(original) - tf(squashed)).abs().mean().item()
    # With the JPEG round trip (how the shipped config runs), the two come closer still.
    tf_jpeg = eval_transform(Preprocessing(jpeg_quality=75))
    diff_jpeg = (tf_jpeg(original) - tf_jpeg(squashed)).abs().mean().item()
    assert diff_jpeg < diff
    # Without the squash step (the paper's aspect-keeping Resize(256)), the two disagree a lot:
    naive = eval_transform(Preprocessing(canonical=0))
    from torchvision import transforms as T

    naive_orig = T.Compose([T.Resize(256), T.CenterCrop(224)])(original.convert("RGB"))
    naive_diff = (naive(naive_orig) - naive(squashed)).abs().mean().item()
    assert diff < 0.05, diff
    assert naive_diff > 4 * diff


def test_train_transform_augments_but_keeps_shape_and_never_flips_vertically():
    tfs = data_transforms(Preprocessing())
    img = make_xray(np.random.default_rng(0), False, 200, 200)
    torch.manual_seed(0)
    a, b = tfs["train"](img), tfs["train"](img)
    assert a.shape == b.shape == (3, 224, 224)
    assert not torch.equal(a, b)  # random augmentation
    names = [type(t).__name__ for t in tfs["train"].transforms]
    assert "RandomVerticalFlip" not in names and "RandomHorizontalFlip" not in names
    assert torch.equal(tfs["val"](img), tfs["test"](img))


def test_preprocessing_round_trips_through_a_dict():
    spec = Preprocessing(canonical=64, resize=72, crop=64)
    assert Preprocessing.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="Unknown preprocessing keys"):
        Preprocessing.from_dict({"bogus": 1})


def test_equalisation_spreads_a_low_contrast_film_and_is_recorded_only_when_set():
    from pneumoscan.data.transforms import Equalize

    rng = np.random.default_rng(0)
    dull = Image.fromarray((100 + 20 * np.asarray(make_xray(rng, True, 128, 128), dtype=np.float64) / 255).astype(
        np.uint8))  # grey levels squeezed into 100..120
    lo, hi = np.percentile(np.asarray(dull), [1, 99])
    for kind in ("clahe", "hist"):
        out = np.asarray(Equalize(kind)(dull.convert("RGB")))
        assert out.ndim == 2 and np.percentile(out, 99) - np.percentile(out, 1) > 3 * (hi - lo)
    assert "equalize" not in Preprocessing().to_dict()  # the shipped run's dict is unchanged
    spec = Preprocessing(equalize="clahe")
    assert Preprocessing.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="equalize must be one of none, clahe, hist"):
        Preprocessing(equalize="gamma")


def test_npz_split_reads_pneumoniamnist_style_arrays():
    data = {
        "train_images": np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
        "train_labels": np.array([[0], [1], [1]]),
    }
    split = npz_split(data, "train")
    assert split.targets == [0, 1, 1] and split.ids[2] == "npz:train:2"
    assert split.class_counts() == {"NORMAL": 1, "PNEUMONIA": 2}
    img = split.load_image(1)
    assert img.size == (28, 28) and np.array_equal(np.asarray(img), data["train_images"][1])
    x, y = split.with_transform(eval_transform(Preprocessing()))[1]
    assert x.shape == (3, 224, 224) and y == 1


def test_jpeg_round_trip_keeps_size_and_mode_and_rejects_bad_quality():
    from pneumoscan.data.transforms import JpegRoundTrip

    img = make_xray(np.random.default_rng(2), True, 64, 64)
    out = JpegRoundTrip(75)(img)
    assert out.size == img.size and out.mode == img.mode
    assert 0 < np.abs(np.asarray(out, float) - np.asarray(img, float)).mean() < 10
    with pytest.raises(ValueError, match="jpeg_quality must be between 1 and 95"):
        JpegRoundTrip(100)


@pytest.mark.parametrize(
    "spec",
    [Preprocessing(canonical=224, jpeg_quality=75), Preprocessing(), Preprocessing(canonical=64, resize=72, crop=64),
     Preprocessing(canonical=96, jpeg_quality=75, resize=72, crop=64, equalize="clahe"),
     Preprocessing(canonical=96, resize=72, crop=64, equalize="hist")],
    ids=["shipped", "paper", "tiny", "clahe", "hist"],
)
def test_eval_tensor_equals_the_torchvision_eval_transform_bit_for_bit(spec):
    from pathlib import Path

    from pneumoscan.data.decoding import decode_image
    from pneumoscan.data.transforms import eval_tensor

    repo = Path(__file__).resolve().parents[2]
    rng = np.random.default_rng(3)
    gray = make_xray(rng, True, 300, 220)
    rgb_noise = Image.fromarray(rng.integers(0, 256, (150, 190, 3), dtype=np.uint8), mode="RGB")
    sixteen = Image.fromarray((np.asarray(gray, dtype=np.uint16) * 200).astype(np.uint16))
    images = [decode_image(p.read_bytes()).image for p in sorted((repo / "samples").glob("*.jpeg"))]
    images += [gray, gray.convert("RGB"), rgb_noise, gray.convert("RGBA"), sixteen]
    reference = eval_transform(spec)
    for image in images:
        expected = reference(image)
        got = eval_tensor(image, spec)
        assert got.dtype == torch.float32 and got.shape == expected.shape
        assert torch.equal(got, expected), (image.mode, image.size, float((got - expected).abs().max()))
