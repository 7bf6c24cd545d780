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
