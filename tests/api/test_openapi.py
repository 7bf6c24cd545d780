"""The OpenAPI document covers every route, and schemathesis fuzzing from it finds no 500."""

from __future__ import annotations

import logging
import re

import pytest

from .api_helpers import png_bytes, xray
from .auth_helpers import bearer_client, token_for

ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def test_every_api_route_is_in_the_document_with_its_methods(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete")}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = ROUTE_PARAM.sub(r"{\1}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


@pytest.fixture()
def seeded_app(app):
    """A few real rows, so that fuzzed ids sometimes hit."""
    client = bearer_client(app, "clinician")
    client.post("/api/patients", json={"name": "Ada", "mrn": "M1"})
    client.post("/api/studies", data={"image": (__import__("io").BytesIO(png_bytes(xray(0, False))), "x.png"),
                                      "patient_id": "1"})
    return app


FUZZ_CASES = 1200
"""Generated requests in all, spread evenly over the operations (at least 1,000: issue 12)."""


def test_fuzzing_the_api_from_its_openapi_document_finds_no_server_error(seeded_app):
    import math

    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.internal.checks import CheckContext
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    schemathesis.experimental.OPEN_API_3_1.enable()
    ctx = CheckContext(override=None, auth=None, headers=None)
    schema = schemathesis.from_wsgi("/api/openapi.json", seeded_app)
    auth = {"Authorization": f"Bearer {token_for(seeded_app, 'fuzz-admin', 'admin')}"}
    failures: list[str] = []
    count = 0
    operations = [operation.ok() for operation in schema.get_all_operations()]
    per_operation = math.ceil(FUZZ_CASES / len(operations))

    def fuzz(op) -> None:
        @settings(max_examples=per_operation, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case):
            nonlocal count
            count += 1
            response = case.call_wsgi(headers=auth)
            if response.status_code == 401 and not case.headers:  # the fuzzer revoked its own token (reset, revoke)
                auth["Authorization"] = f"Bearer {token_for(seeded_app, 'fuzz-admin', 'admin')}"
            for check in (not_a_server_error, status_code_conformance, content_type_conformance):
                try:  # called one by one: Case.validate_response cannot print binary (PNG/PDF) bodies
                    check(ctx, response, case)
                except AssertionError as exc:
                    failures.append(f"{op.method.upper()} {op.path} -> {response.status_code} "
                                    f"{check.__name__}: {str(exc)[:300]}")
            if response.status_code >= 400:
                assert set(response.json["error"]) >= {"status", "code", "message"}

        run()

    for operation in operations:
        fuzz(operation)
    logging.getLogger(__name__).info("schemathesis: %d cases over %d operations", count, len(operations))
    assert count >= 1000, count
    assert not failures, "\n".join(sorted(set(failures))[:20])


def test_patient_input_carries_the_servers_own_limits(client):
    """The web app's form limits come from here (the contract with web/lib): one Python constant each."""
    from pneumoscan.api import schemas

    doc = client.get("/api/openapi.json").get_json()
    patient_input = doc["components"]["schemas"]["PatientInput"]
    props = patient_input["properties"]
    assert props["name"]["maxLength"] == schemas.NAME_MAX == 200
    assert props["mrn"]["maxLength"] == schemas.MRN_MAX == 64
    assert props["mrn"]["pattern"] == schemas.MRN_PATTERN
    assert props["referring_doctor"]["maxLength"] == schemas.DOCTOR_MAX == 200
    assert props["notes"]["maxLength"] == schemas.NOTES_MAX == 5000
    assert (props["age_years"]["minimum"], props["age_years"]["maximum"]) == (0, schemas.MAX_AGE_YEARS) == (0, 130)
    assert props["birth_date"]["format"] == "date"
    assert patient_input["x-age-birth-date-tolerance-years"] == schemas.AGE_BIRTH_DATE_TOLERANCE_YEARS == 1
    assert patient_input["additionalProperties"] is False


def test_the_document_names_each_operation_and_its_access(client):
    doc = client.get("/api/openapi.json").get_json()
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert {"createPatient", "listPatients", "readPatient", "updatePatient", "replacePatient", "deletePatient",
            "createStudy", "readStudy", "predict", "inspect", "login", "worklist"} <= set(ids)
    for op in operations:
        assert op["x-access"] in ("public", "predict", "user", "clinician", "admin")
        if op["x-access"] == "public":
            assert op["security"] == [], op["operationId"]
        elif op["x-access"] != "predict":
            assert {"401", "403"} <= set(op["responses"]), op["operationId"]
    schemas_ = doc["components"]["schemas"]
    assert not [name for name in schemas_ if name[-1].isdigit()], "a schema was registered twice"
    assert schemas_["Error"]["required"] == ["error"]
