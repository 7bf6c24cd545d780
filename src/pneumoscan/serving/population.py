"""Refusals for patients and images outside the population the model was validated on.

Reason code ``outside_intended_population`` for both:

- the age rule: the patient's age is known (form, ``age_years`` field, DICOM ``PatientAge`` or
  ``PatientBirthDate`` with ``StudyDate``) and lies outside the run's ``IntendedPopulation``;
- the image check: the run's ``PopulationCheck`` says the X-ray looks like another population's.
"""

from __future__ import annotations

import datetime as dt
import re

from pneumoscan.data.decoding import DicomInfo
from pneumoscan.models.population import IntendedPopulation
from pneumoscan.serving.refusal import Refusal

REASON = "outside_intended_population"
_WHAT_TO_DO = (
    "Read the film without the tool, or use a model validated for this population."
)
_DICOM_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def age_from_dicom(info: DicomInfo | None) -> float | None:
    """The patient's age in years from DICOM tags, or None when the tags do not tell.

    ``PatientAge`` (``nnnD``, ``nnnW``, ``nnnM`` or ``nnnY``) wins; otherwise ``PatientBirthDate``
    with ``StudyDate``. Malformed or impossible values count as unknown.
    """
    if info is None:
        return None
    if info.patient_age:
        m = _DICOM_AGE.match(info.patient_age)
        if m:
            return int(m.group(1)) * _UNIT_YEARS[m.group(2).upper()]
    return age_between(info.birth_date, info.study_date)


def age_between(birth_date: str | dt.date | None, on: str | dt.date | None) -> float | None:
    """Age in years on ``on`` of someone born on ``birth_date`` (ISO strings or dates); None if unknown."""
    try:
        born = birth_date if isinstance(birth_date, dt.date) else dt.date.fromisoformat(str(birth_date))
        day = on if isinstance(on, dt.date) else dt.date.fromisoformat(str(on))
    except (TypeError, ValueError):
        return None
    if day < born:
        return None
    return (day - born).days / 365.25


def check_age(age_years: float | None, population: IntendedPopulation | None, source: str = "") -> Refusal | None:
    """Refuse a patient whose known age lies outside the intended population.

    Args:
        age_years: the patient's age, or None when unknown (no refusal).
        population: the run's intended population (None: no age rule).
        source: where the age came from, for the message ("the form", "the DICOM tags").
    """
    if age_years is None or population is None or population.contains_age(age_years):
        return None
    shown = f"{age_years:.1f}" if age_years < 2 else f"{int(age_years)}"
    said = f" (from {source})" if source else ""
    return Refusal(
        REASON,
        f"The patient is {shown} years old{said}, but this model was validated only on patients aged "
        f"{population.age_range_text()}. Its answer outside that population is not reliable. {_WHAT_TO_DO}",
        {
            "age_years": round(float(age_years), 2),
            "age_min_years": population.age_min_years,
            "age_max_years": population.age_max_years,
        },
    )


def image_outside(score: float, threshold: float, population: IntendedPopulation | None) -> Refusal:
    """The refusal for an X-ray that the population check places outside the training population."""
    who = population.description if population and population.description else "the training population"
    return Refusal(
        REASON,
        f"This X-ray does not look like those of the population the model was validated on ({who}): "
        "it may be an adult's film or come from a very different machine or hospital. Its answer would not "
        f"be reliable. {_WHAT_TO_DO}",
        {"score": round(float(score), 4), "threshold": round(float(threshold), 4)},
    )
