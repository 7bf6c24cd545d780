"""The web app's copy of the OpenAPI document (web/lib/generated/openapi.json) is the one the API
serves, and the patient limits it declares (which the exam form reads) are the ones the API enforces."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from pneumoscan.cli import main

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "lib" / "generated" / "openapi.json"
REGENERATE = "run `make api-types` (or `pneumoscan openapi --out web/lib/generated/openapi.json && cd web && " \
             "npm run gen:api`) and commit both generated files"


def differences(old: object, new: object, where: str = "") -> list[str]:
    """JSON pointers where two documents differ (the first few are enough to see what changed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            here = f"{where}/{key}"
            if key not in old or key not in new:
                out.append(f"{here} {'added' if key in new else 'removed'}")
            else:
                out += differences(old[key], new[key], here)
        return out
    return [] if old == new else [f"{where or '/'} changed"]


def test_differences_name_the_json_pointers_that_changed():
    old = {"a": {"b": 1, "c": [1]}, "gone": 0}
    new = {"a": {"b": 2, "c": [1]}, "new": 0}
    assert differences(old, new) == ["/a/b changed", "/gone removed", "/new added"]
    assert differences(old, old) == []


@pytest.fixture(scope="module")
def served_document(tiny_run: Path, tmp_path_factory) -> dict:
    """The document as ``pneumoscan openapi`` writes it (the command that regenerates the web copy)."""
    out = tmp_path_factory.mktemp("openapi") / "openapi.json"
    assert main(["openapi", str(tiny_run), "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_pneumoscan_openapi_writes_the_document_the_api_serves(served_document, anon_client):
    assert served_document == anon_client.get("/api/openapi.json").get_json()


def test_the_web_apps_committed_openapi_document_is_current(served_document):
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    stale = differences(committed, served_document)
    assert not stale, (f"web/lib/generated/openapi.json is stale ({len(stale)} differences, first: "
                       f"{', '.join(stale[:8])}): {REGENERATE}.")


@pytest.fixture(scope="module")
def patient_input(served_document) -> dict:
    return served_document["components"]["schemas"]["PatientInput"]


@pytest.mark.parametrize("field", ["name", "mrn", "referring_doctor", "notes"])
def test_the_documented_maximum_length_is_the_one_the_api_enforces(client, patient_input, field):
    limit = patient_input["properties"][field]["maxLength"]
    body = {"name": "Ada", "mrn": "M1"}
    response = client.post("/api/patients", json={**body, field: "x" * limit})
    assert response.status_code == 201, response.get_json()
    response = client.post("/api/patients", json={**body, "mrn": "M2", field: "x" * (limit + 1)})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_the_documented_age_range_is_the_one_the_api_enforces(client, patient_input):
    age = patient_input["properties"]["age_years"]
    low, high = age["minimum"], age["maximum"]
    for n, value in enumerate((low, high)):
        assert client.post("/api/patients", json={"name": "A", "mrn": f"A{n}", "age_years": value}).status_code == 201
    for n, value in enumerate((low - 1, high + 1)):
        response = client.post("/api/patients", json={"name": "A", "mrn": f"B{n}", "age_years": value})
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "age_years"


def test_the_documented_age_birth_date_tolerance_is_the_one_the_api_enforces(client, patient_input):
    tolerance = patient_input["x-age-birth-date-tolerance-years"]
    birth = dt.date(dt.date.today().year - 40, 1, 1)  # 40 years old all year
    computed = 40
    body = {"name": "A", "birth_date": birth.isoformat()}
    for mrn, age in (("T1", computed + tolerance), ("T2", computed - tolerance)):
        assert client.post("/api/patients", json={**body, "mrn": mrn, "age_years": age}).status_code == 201
    response = client.post("/api/patients", json={**body, "mrn": "T3", "age_years": computed + tolerance + 1})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "age_years"


def test_the_documented_mrn_rule_takes_letters_of_any_script_and_refuses_symbols(patient_input):
    """The form compiles the pattern with ECMA-262's ``u`` flag (web/tests); Python's ``re`` reads it too."""
    pattern = re.compile(patient_input["properties"]["mrn"]["pattern"])
    for mrn in ("MRN-0042", "Müller 12/3", "№ 5", "a_b.c", "病歴123"):
        assert pattern.search(mrn), mrn
    for mrn in ("12<A>", "a#1", "x\x00", "tab\there", "semi;colon", ""):
        assert not pattern.search(mrn), mrn
