"""The age rule: ages from the request or from DICOM tags, checked against the intended population."""

import datetime as dt

import pytest

from pneumoscan.data.decoding import DicomInfo
from pneumoscan.models.population import IntendedPopulation
from pneumoscan.serving.population import REASON, age_between, age_from_dicom, check_age

CHILDREN = IntendedPopulation(1, 5, ("PA", "AP"), "children aged 1-5 years")


def _info(**tags) -> DicomInfo:
    base = dict(patient_name=None, patient_id=None, sex="unknown", birth_date=None, study_date=None, modality="CR",
                view_position="PA", body_part="CHEST", photometric_interpretation="MONOCHROME2", bits_stored=8,
                transfer_syntax=None)
    return DicomInfo(**{**base, **tags})


@pytest.mark.parametrize(
    ("patient_age", "years"),
    [("004Y", 4.0), ("018M", 1.5), ("052W", 52 * 7 / 365.25), ("010D", 10 / 365.25), ("062Y", 62.0)],
)
def test_dicom_patient_age_is_read_in_every_unit(patient_age, years):
    assert age_from_dicom(_info(patient_age=patient_age)) == pytest.approx(years)


def test_dicom_age_falls_back_to_birth_and_study_dates_and_ignores_nonsense():
    assert age_from_dicom(_info(birth_date="2020-02-29", study_date="2024-05-01")) == pytest.approx(
        (dt.date(2024, 5, 1) - dt.date(2020, 2, 29)).days / 365.25)
    assert age_from_dicom(_info(patient_age="abc", birth_date="2020-01-01", study_date="2023-01-01")) == pytest.approx(
        3.0, abs=0.01)
    assert age_from_dicom(_info(birth_date="2024-01-01", study_date="2020-01-01")) is None  # imaged before birth
    assert age_from_dicom(_info()) is None and age_from_dicom(None) is None
    assert age_between("not a date", "2020-01-01") is None


def test_age_outside_the_population_is_refused_with_a_plain_reason():
    refusal = check_age(34.0, CHILDREN, "the request")
    assert refusal.reason == REASON == "outside_intended_population"
    assert "34 years old (from the request)" in refusal.message and "1-5 years" in refusal.message
    assert "without the tool" in refusal.message
    assert refusal.detail == {"age_years": 34.0, "age_min_years": 1.0, "age_max_years": 5.0}
    assert check_age(0.5, CHILDREN).detail["age_years"] == 0.5


@pytest.mark.parametrize("age", [1.0, 3.2, 5.9, None])
def test_ages_inside_or_unknown_are_not_refused(age):
    assert check_age(age, CHILDREN) is None
    assert check_age(40.0, None) is None  # a run without a stated population has no age rule
