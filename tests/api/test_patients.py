"""Patients: create, read, search, paginate, update, delete, and every validation error."""

from __future__ import annotations

import datetime as dt

import pytest

from .api_helpers import upload
from .test_bad_input import assert_error

ADA = {"name": "Ada Lovelace", "mrn": "MRN-0001", "sex": "female", "birth_date": "1990-12-10",
       "referring_doctor": "Dr. Babbage", "notes": "cough for 5 days"}


def _age(birth: dt.date) -> int:
    today = dt.date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def test_create_then_read_a_patient(client):
    response = client.post("/api/patients", json=ADA)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/patients/{body['id']}"
    for key, value in ADA.items():
        assert body[key] == value
    assert body["age_years"] == _age(dt.date(1990, 12, 10))
    assert body["created_at"].endswith("Z")
    read = client.get(f"/api/patients/{body['id']}").get_json()
    assert read["studies"] == [] and read["mrn"] == "MRN-0001"


def test_only_name_and_mrn_are_required_and_age_can_replace_birth_date(client):
    body = client.post("/api/patients", json={"name": " Bo ", "mrn": "M2", "age_years": 7}).get_json()
    assert (body["name"], body["sex"], body["birth_date"], body["age_years"]) == ("Bo", "unknown", None, 7)


def test_search_by_name_or_mrn_and_paginate_newest_first(client):
    for i in range(25):
        client.post("/api/patients", json={"name": f"Patient {i:02d}", "mrn": f"H-{i:04d}"})
    client.post("/api/patients", json={"name": "Grace Hopper", "mrn": "NAVY-1906"})
    page1 = client.get("/api/patients?per_page=10").get_json()
    assert (page1["total"], page1["page"], page1["per_page"], len(page1["items"])) == (26, 1, 10, 10)
    assert page1["items"][0]["name"] == "Grace Hopper"
    page3 = client.get("/api/patients?per_page=10&page=3").get_json()
    assert len(page3["items"]) == 6
    assert client.get("/api/patients?page=9").get_json()["items"] == []
    assert [p["name"] for p in client.get("/api/patients?q=hopper").get_json()["items"]] == ["Grace Hopper"]
    assert client.get("/api/patients?q=navy-19").get_json()["total"] == 1
    assert client.get("/api/patients?q=H-001").get_json()["total"] == 10  # H-0010 .. H-0019
    assert client.get("/api/patients?q=%25").get_json()["total"] == 0  # % is literal, not a wildcard
    assert client.get("/api/patients?q=_").get_json()["total"] == 0


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=101", "per_page=1.5"])
def test_bad_paging_is_400(client, query):
    assert_error(client.get(f"/api/patients?{query}"), 400, "invalid_field")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"mrn": "M1"}, 400, "missing_field", "name"),
        ({"name": "A"}, 400, "missing_field", "mrn"),
        ({"name": "   ", "mrn": "M1"}, 400, "missing_field", "name"),
        ({"name": 5, "mrn": "M1"}, 400, "invalid_field", "name"),
        ({"name": "A", "mrn": "M1", "sex": "F"}, 400, "invalid_field", "sex"),
        ({"name": "A", "mrn": "M1", "birth_date": "10/12/1990"}, 400, "invalid_field", "birth_date"),
        ({"name": "A", "mrn": "M1", "birth_date": "2999-01-01"}, 400, "invalid_field", "birth_date"),
        ({"name": "A", "mrn": "M1", "age_years": -1}, 400, "invalid_field", "age_years"),
        ({"name": "A", "mrn": "M1", "age_years": "7"}, 400, "invalid_field", "age_years"),
        ({"name": "A", "mrn": "M1", "age_years": True}, 400, "invalid_field", "age_years"),
        ({"name": "A", "mrn": "M1", "birth_date": "2000-01-01", "age_years": 3}, 400, "invalid_field", "age_years"),
        ({"name": "A" * 201, "mrn": "M1"}, 400, "invalid_field", "name"),
        ({"name": "A", "mrn": "M1", "colour": "blue"}, 400, "invalid_field", "colour"),
    ],
)
def test_invalid_patient_bodies_name_the_field(client, body, status, code, field):
    error = assert_error(client.post("/api/patients", json=body), status, code)
    assert error["field"] == field and field in error["message"]
    assert client.get("/api/patients").get_json()["total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": "", "content_type": "application/json"}, 400, "bad_request"),
        ({"json": ["a", "list"]}, 400, "bad_request"),
        ({"data": "name=A&mrn=1", "content_type": "application/x-www-form-urlencoded"}, 415,
         "unsupported_media_type"),
    ],
    ids=["malformed", "empty", "list", "form"],
)
def test_malformed_json_bodies_are_rejected(client, kwargs, status, code):
    assert_error(client.post("/api/patients", **kwargs), status, code)


def test_a_duplicate_mrn_is_422_and_points_at_the_existing_patient(client):
    first = client.post("/api/patients", json=ADA).get_json()
    error = assert_error(client.post("/api/patients", json={**ADA, "name": "Someone Else"}), 422, "duplicate_mrn",
                         "MRN-0001")
    assert error["patient_id"] == first["id"]
    assert client.get("/api/patients").get_json()["total"] == 1


def test_patch_changes_only_what_is_sent_and_put_replaces(client):
    pid = client.post("/api/patients", json=ADA).get_json()["id"]
    patched = client.patch(f"/api/patients/{pid}", json={"notes": "fever", "sex": "other"}).get_json()
    assert (patched["notes"], patched["sex"], patched["name"], patched["birth_date"]) == (
        "fever", "other", ADA["name"], ADA["birth_date"])
    replaced = client.put(f"/api/patients/{pid}", json={"name": "Ada L.", "mrn": "MRN-0001"}).get_json()
    assert (replaced["name"], replaced["notes"], replaced["birth_date"], replaced["sex"]) == (
        "Ada L.", None, None, "unknown")
    other = client.post("/api/patients", json={"name": "B", "mrn": "MRN-0002"}).get_json()["id"]
    assert_error(client.patch(f"/api/patients/{other}", json={"mrn": "MRN-0001"}), 422, "duplicate_mrn")
    assert_error(client.patch("/api/patients/999", json={"notes": "x"}), 404, "not_found")


def test_delete_works_for_a_patient_without_studies_and_is_refused_otherwise(client, xray_png):
    lonely = client.post("/api/patients", json={"name": "A", "mrn": "A1"}).get_json()["id"]
    assert client.delete(f"/api/patients/{lonely}").status_code == 204
    assert_error(client.get(f"/api/patients/{lonely}"), 404, "not_found")
    pid = client.post("/api/patients", json={"name": "B", "mrn": "B1"}).get_json()["id"]
    assert client.post("/api/studies", data=upload(xray_png(0), patient_id=str(pid))).status_code == 201
    assert_error(client.delete(f"/api/patients/{pid}"), 422, "patient_has_studies", "1 study")
    assert client.get(f"/api/patients/{pid}").get_json()["studies"][0]["patient_id"] == pid


@pytest.mark.parametrize("mrn", ["MRN 12/3", "A.b_c-2", "Zoë-1", "病歴123", "7"])
def test_mrns_of_letters_digits_spaces_and_dot_dash_underscore_slash_are_accepted(client, mrn):
    assert client.post("/api/patients", json={"name": "A", "mrn": mrn}).status_code == 201


@pytest.mark.parametrize(("mrn", "named"), [("M1;DROP", "';'"), ("MRN\\1", "'\\\\'"), ("M1\t2", "'\\t'"),
                                            ("A:1<2>", "':', '<', '>'")])
def test_an_mrn_with_other_characters_is_400_naming_them_and_the_rule(client, mrn, named):
    error = assert_error(client.post("/api/patients", json={"name": "A", "mrn": mrn}), 400, "invalid_field")
    assert error["field"] == "mrn" and f"({named})" in error["message"]
    assert "letters and digits of any script" in error["message"]
    assert client.get("/api/patients").get_json()["total"] == 0


@pytest.mark.parametrize("field", ["name", "mrn"])
def test_patch_may_leave_out_name_and_mrn_but_not_blank_them(client, field):
    pid = client.post("/api/patients", json={"name": "A", "mrn": "P-1"}).get_json()["id"]
    assert client.patch(f"/api/patients/{pid}", json={"notes": "x"}).status_code == 200
    for value in (None, "  "):
        error = assert_error(client.patch(f"/api/patients/{pid}", json={field: value}), 400, "missing_field")
        assert error["field"] == field
    assert client.get(f"/api/patients/{pid}").get_json()[field] in ("A", "P-1")

