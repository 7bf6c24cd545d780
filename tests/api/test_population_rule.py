"""The intended population through the API: the age from the form, the patient record and DICOM tags."""

from __future__ import annotations

import datetime as dt

import pytest

from .api_helpers import upload


def test_predict_refuses_a_stated_adult_age_and_answers_a_child(client, xray_png):
    adult = client.post("/api/predict", data=upload(xray_png(1, True), age_years="34"))
    assert adult.status_code == 422
    body = adult.get_json()["error"]
    assert body["reason"] == "outside_intended_population"
    assert body["detail"] == {"age_years": 34.0, "age_min_years": 1.0, "age_max_years": 5.0}
    assert "34 years old" in body["message"] and "without the tool" in body["message"]
    child = client.post("/api/predict", data=upload(xray_png(1, True), age_years="3.5"))
    assert child.status_code == 200, child.get_json()
    assert child.get_json()["label"] in ("NORMAL", "PNEUMONIA")


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", "-1", "131", "1e400"])
def test_predict_names_a_bad_age_field(client, xray_png, raw):
    response = client.post("/api/predict", data=upload(xray_png(1, True), age_years=raw))
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["field"] == "age_years" and "from 0 to 130" in body["message"]


def test_a_study_uses_the_patients_stored_age_unless_the_form_states_one(client, xray_png):
    adult = client.post("/api/patients", json={"name": "Ada Adult", "mrn": "POP-1", "age_years": 40}).get_json()
    three_years_ago = (dt.date.today() - dt.timedelta(days=3 * 365)).isoformat()
    kid = {"name": "Kim Kid", "mrn": "POP-2", "birth_date": three_years_ago}
    child = client.post("/api/patients", json=kid).get_json()
    refused = client.post("/api/studies", data=upload(xray_png(2, False), patient_id=str(adult["id"])))
    assert refused.status_code == 422 and refused.get_json()["error"]["reason"] == "outside_intended_population"
    assert client.get("/api/studies").get_json()["total"] == 0  # a refusal stores nothing
    stored = client.post("/api/studies", data=upload(xray_png(2, False), patient_id=str(child["id"])))
    assert stored.status_code == 201, stored.get_json()
    stated = client.post("/api/studies", data=upload(xray_png(2, False), patient_id=str(child["id"]), age_years="70"))
    assert stated.status_code == 422 and stated.get_json()["error"]["detail"]["age_years"] == 70.0


def test_the_model_card_states_the_intended_population(client):
    card = client.get("/api/model").get_json()
    assert card["intended_population"]["age_min_years"] == 1.0
    assert card["intended_population"]["age_max_years"] == 5.0
    assert card["intended_population"]["views"] == ["PA", "AP"]
    assert "children" in card["intended_population"]["description"]
