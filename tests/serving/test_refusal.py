"""The dedicated refusal checks: DICOM tags and pixels, on hand-made and real images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pydicom.data import get_testdata_file

from pneumoscan.data.decoding import DicomInfo, decode_image
from pneumoscan.serving.refusal import check_dicom_tags, check_pixels, pixel_measures
from synthetic import make_xray

CHEST = DicomInfo(
    patient_name=None, patient_id=None, sex="unknown", birth_date=None, study_date=None, modality="CR",
    view_position="PA", body_part="CHEST", photometric_interpretation="MONOCHROME2", bits_stored=12,
    transfer_syntax=None,
)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"modality": "CT"}, "ct_or_mr"),
        ({"modality": "MR"}, "ct_or_mr"),
        ({"modality": "US"}, "not_radiograph"),
        ({"modality": "MG"}, "not_radiograph"),
        ({"body_part": "EXTREMITY"}, "not_chest"),
        ({"body_part": "SKULL"}, "not_chest"),
        ({"view_position": "LL"}, "lateral_view"),
        ({"view_position": "RL"}, "lateral_view"),
    ],
)
def test_dicom_tags_that_rule_out_a_frontal_chest_radiograph_are_refused(changes, reason):
    refusal = check_dicom_tags(dataclasses.replace(CHEST, **changes))
    assert refusal is not None and refusal.reason == reason
    assert "frontal" in refusal.message


@pytest.mark.parametrize(
    "changes",
    [{}, {"modality": "DX"}, {"view_position": "AP"}, {"body_part": None, "view_position": None, "modality": None}],
)
def test_frontal_chest_tags_and_absent_tags_pass(changes):
    assert check_dicom_tags(dataclasses.replace(CHEST, **changes)) is None
    assert check_dicom_tags(None) is None


def test_real_dicom_files_are_judged_by_their_tags():
    def tags(name: str) -> DicomInfo:
        return decode_image(Path(get_testdata_file(name)).read_bytes()).dicom

    assert check_dicom_tags(tags("RG1_UNCR.dcm")) is None  # CR chest PA
    assert check_dicom_tags(tags("CT_small.dcm")).reason == "ct_or_mr"
    assert check_dicom_tags(tags("MR_small.dcm")).reason == "ct_or_mr"
    assert check_dicom_tags(tags("RG3_UNCR.dcm")).reason == "not_chest"  # CR of an extremity
    assert check_dicom_tags(tags("US1_J2KR.dcm")).reason == "not_radiograph"


def test_synthetic_and_real_radiographs_pass_the_pixel_checks():
    rng = np.random.default_rng(0)
    for i in range(6):
        assert check_pixels(make_xray(rng, i % 2 == 1)) is None
    for name in ("RG1_UNCR.dcm", "RG1_J2KI.dcm"):
        assert check_pixels(decode_image(Path(get_testdata_file(name)).read_bytes()).image) is None


@pytest.mark.parametrize("value", [0, 128, 255])
def test_constant_images_are_blank(value):
    assert check_pixels(Image.new("L", (200, 200), value)).reason == "blank_image"


def test_an_almost_constant_noisy_image_is_blank():
    arr = 120 + np.random.default_rng(0).integers(-2, 3, (200, 200))
    assert check_pixels(Image.fromarray(arr.astype(np.uint8))).reason == "blank_image"


def test_colour_photographs_are_refused():
    from skimage import data as skdata

    for photo in (skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()):
        refusal = check_pixels(Image.fromarray(photo))
        assert refusal is not None and refusal.reason == "photograph"


def test_a_gray_xray_saved_as_rgb_is_not_a_photograph():
    image = make_xray(np.random.default_rng(1), True).convert("RGB")
    assert pixel_measures(image)["mean_chroma"] == 0
    assert check_pixels(image) is None


def test_a_page_of_text_is_a_document():
    page = Image.new("L", (400, 560), 250)
    draw = ImageDraw.Draw(page)
    for line in range(25):
        draw.text((20, 15 + line * 21), f"Patient letter: results of the chest examination, line {line}", fill=10)
    refusal = check_pixels(page)
    assert refusal is not None and refusal.reason == "document"


def test_a_two_tone_drawing_is_a_document():
    drawing = Image.new("L", (300, 300), 30)
    ImageDraw.Draw(drawing).ellipse((50, 50, 250, 250), fill=220)
    assert check_pixels(drawing).reason == "document"
