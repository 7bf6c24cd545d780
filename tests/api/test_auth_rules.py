"""Every endpoint of the app has an access rule, and the rule holds: 401 without credentials, 403 for a
role that lacks the right, success with the right one.

The table is walked from the app's url_map: an endpoint added without a row here (or without an
``@access(...)`` declaration on its view) fails this test.
"""

from __future__ import annotations

import io

import pytest

from .api_helpers import png_bytes, upload, xray
from .auth_helpers import bearer_client

EXPECTED: dict[str, str] = {
    "meta.health": "public",
    "meta.model_card": "public",
    "meta.model_figure": "public",
    "meta.validation_figure": "public",
    "meta.openapi": "public",
    "web.static_site": "public",
    "auth.login": "public",
    "images.predict": "public",
    "images.inspect": "public",
    "auth.logout": "user",
    "auth.me": "user",
    "auth.list_tokens": "user",
    "auth.create_token": "user",
    "auth.revoke_token": "user",
    "patients.create_patient": "clinician",
    "patients.list_patients": "clinician",
    "patients.read_patient": "clinician",
    "patients.update_patient": "clinician",
    "patients.delete_patient": "clinician",
    "studies.create_study": "clinician",
    "studies.list_studies": "clinician",
    "studies.read_study": "clinician",
    "studies.update_study": "clinician",
    "studies.study_image": "clinician",
    "studies.study_original": "clinician",
    "studies.study_heatmap": "clinician",
    "reports.report_json": "clinician",
    "reports.report_pdf": "clinician",
    "hospital.study_dicom": "clinician",
    "hospital.study_fhir": "clinician",
    "hospital.mark_read": "clinician",
    "hospital.worklist": "clinician",
    "dicomweb.stow": "clinician",
    "admin.list_users": "admin",
    "admin.create_user": "admin",
    "admin.update_user": "admin",
    "admin.reset_password": "admin",
    "admin.unlock_user": "admin",
    "admin.list_user_tokens": "admin",
    "admin.revoke_user_token": "admin",
    "admin.audit_log": "admin",
}


def _image() -> dict:
    return upload(png_bytes(xray(1, False)), "x.png")


def _dicom() -> bytes:
    from dicom_files import dicom_bytes

    return dicom_bytes(seed=1)


def example(endpoint: str, method: str, ids: dict) -> tuple[str, dict]:
    """A request that succeeds for a user with the right role: (url, keyword arguments)."""
    p, s, u, t = ids["patient"], ids["study"], ids["user"], ids["token"]
    return {
        ("meta.health", "GET"): ("/api/health", {}),
        ("meta.model_card", "GET"): ("/api/model", {}),
        ("meta.model_figure", "GET"): ("/api/model/figures/roc_curve.png", {}),
        ("meta.validation_figure", "GET"): ("/api/model/validation/site/reliability.png", {}),
        ("meta.openapi", "GET"): ("/api/openapi.json", {}),
        ("web.static_site", "GET"): ("/", {}),
        ("auth.login", "POST"): ("/api/auth/login", {"json": {"username": "rules-clinician",
                                                             "password": "correct horse battery"}}),
        ("images.predict", "POST"): ("/api/predict", {"data": _image()}),
        ("images.inspect", "POST"): ("/api/inspect", {"data": _image()}),
        ("auth.logout", "POST"): ("/api/auth/logout", {}),
        ("auth.me", "GET"): ("/api/auth/me", {}),
        ("auth.list_tokens", "GET"): ("/api/auth/tokens", {}),
        ("auth.create_token", "POST"): ("/api/auth/tokens", {"json": {"name": "script"}}),
        ("auth.revoke_token", "DELETE"): (f"/api/auth/tokens/{t}", {}),
        ("patients.create_patient", "POST"): ("/api/patients", {"json": {"name": "New", "mrn": "N-1"}}),
        ("patients.list_patients", "GET"): ("/api/patients?q=ad", {}),
        ("patients.read_patient", "GET"): (f"/api/patients/{p}", {}),
        ("patients.update_patient", "PATCH"): (f"/api/patients/{p}", {"json": {"notes": "cough"}}),
        ("patients.update_patient", "PUT"): (f"/api/patients/{p}", {"json": {"name": "Ada", "mrn": "R-1"}}),
        ("patients.delete_patient", "DELETE"): (f"/api/patients/{ids['empty_patient']}", {}),
        ("studies.create_study", "POST"): ("/api/studies", {"data": _image()}),
        ("studies.list_studies", "GET"): ("/api/studies", {}),
        ("studies.read_study", "GET"): (f"/api/studies/{s}", {}),
        ("studies.update_study", "PATCH"): (f"/api/studies/{s}", {"json": {"patient_id": None}}),
        ("studies.study_image", "GET"): (f"/api/studies/{s}/image", {}),
        ("studies.study_original", "GET"): (f"/api/studies/{s}/original", {}),
        ("studies.study_heatmap", "GET"): (f"/api/studies/{s}/heatmap", {}),
        ("reports.report_json", "GET"): (f"/api/reports/{s}", {}),
        ("reports.report_pdf", "GET"): (f"/api/reports/{s}.pdf", {}),
        ("hospital.study_dicom", "GET"): (f"/api/studies/{s}/dicom/sr", {}),
        ("hospital.study_fhir", "GET"): (f"/api/studies/{s}/fhir", {}),
        ("hospital.mark_read", "POST"): (f"/api/studies/{s}/read", {}),
        ("hospital.worklist", "GET"): ("/api/worklist?read=unread", {}),
        ("dicomweb.stow", "POST"): ("/dicomweb/studies", {"data": _dicom(), "content_type": "application/dicom"}),
        ("admin.list_users", "GET"): ("/api/admin/users", {}),
        ("admin.create_user", "POST"): ("/api/admin/users", {"json": {"username": "newbie", "role": "clinician"}}),
        ("admin.update_user", "PATCH"): (f"/api/admin/users/{u}", {"json": {"disabled": True}}),
        ("admin.reset_password", "POST"): (f"/api/admin/users/{u}/reset-password", {}),
        ("admin.unlock_user", "POST"): (f"/api/admin/users/{u}/unlock", {}),
        ("admin.audit_log", "GET"): ("/api/admin/audit?user=rules-clinician", {}),
        ("admin.list_user_tokens", "GET"): (f"/api/admin/users/{ids['token_user']}/tokens", {}),
        ("admin.revoke_user_token", "DELETE"): (f"/api/admin/users/{ids['token_user']}/tokens/{t}", {}),
    }[(endpoint, method)]


def test_every_endpoint_of_the_app_has_a_rule_and_a_row_here(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    from pneumoscan.api.declare import access_table

    declared = access_table(app)
    assert endpoints - set(EXPECTED) == set(), "add the new endpoint to EXPECTED (and @access(...) to its view)"
    assert endpoints - set(declared) == set(), "declare who may call the new endpoint: @access(...) on its view"
    for endpoint, rule in EXPECTED.items():
        assert declared[endpoint].replace("predict", "public") == rule, endpoint


def test_an_endpoint_without_an_access_declaration_is_closed(app, anon_client):
    @app.get("/api/undeclared-probe")
    def undeclared_probe():
        return {"ok": True}

    app.extensions.pop("pneumoscan.access_table", None)  # rebuilt from the declarations at the next request
    response = anon_client.get("/api/undeclared-probe")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "no_access_rule"


def _cases():
    """The url_map of an app built from the real blueprints, without loading a model."""
    from flask import Flask

    from pneumoscan.api.views import register_blueprints

    probe = Flask("probe", static_folder=None)
    register_blueprints(probe)
    return sorted((rule.endpoint, method) for rule in probe.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


@pytest.fixture()
def seeded(app):
    """Two patients (one with a study) and a clinician with an API token; returns the ids."""
    from pneumoscan.api.accounts import find_user
    from pneumoscan.api.orm import ApiToken

    from .auth_helpers import make_user

    clinician = bearer_client(app, "clinician", "rules-clinician")
    admin = bearer_client(app, "admin", "rules-admin")
    make_user(app, "other-clinician")
    patient = clinician.post("/api/patients", json={"name": "Ada", "mrn": "M-1"}).get_json()["id"]
    empty = clinician.post("/api/patients", json={"name": "Bo", "mrn": "M-2"}).get_json()["id"]
    study = clinician.post("/api/studies", data={"image": (io.BytesIO(png_bytes(xray(0, False))), "x.png"),
                                                 "patient_id": str(patient)}).get_json()["id"]
    with app.extensions["pneumoscan"].db.session() as session:
        user = find_user(session, "other-clinician")
        token = session.query(ApiToken).filter_by(user_id=find_user(session, "rules-clinician").id).one()
        ids = {"patient": patient, "empty_patient": empty, "study": study, "user": user.id, "token": token.id,
               "token_user": token.user_id}
    return ids, clinician, admin


@pytest.mark.parametrize(("endpoint", "method"), _cases())
def test_the_rule_holds(app, anon_client, seeded, endpoint, method):
    ids, clinician, admin = seeded
    rule = EXPECTED.get(endpoint)
    assert rule is not None, f"{endpoint} has no row in EXPECTED"
    url, kwargs = example(endpoint, method, ids)

    def call(client):
        fresh = {k: (_image() if k == "data" and isinstance(v, dict) else v) for k, v in kwargs.items()}
        return client.open(url, method=method, **fresh)

    anonymous = call(anon_client)
    if rule == "public":
        assert anonymous.status_code not in (401, 403), anonymous.get_data(as_text=True)[:300]
        return
    assert anonymous.status_code == 401, anonymous.get_data(as_text=True)[:300]
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    if rule == "admin":
        refused = call(clinician)
        assert refused.status_code == 403, refused.get_data(as_text=True)[:300]
        assert refused.get_json()["error"]["code"] == "forbidden"
        allowed = call(admin)
    else:
        allowed = call(clinician)
    assert allowed.status_code in (200, 201, 204), allowed.get_data(as_text=True)[:300]


@pytest.mark.parametrize("url", ["/api/predict", "/api/inspect"])
def test_predict_and_inspect_can_be_closed_to_anonymous_callers(tiny_run, predictor, tmp_path, url):
    from pneumoscan.api import create_app

    app = create_app({"RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "d",
                      "PREDICT_REQUIRES_LOGIN": True})
    assert app.test_client().post(url, data=_image()).status_code == 401
    assert bearer_client(app).post(url, data=_image()).status_code == 200


def test_unknown_ids_and_ids_of_other_users_answer_alike(app, client, seeded):
    ids, _, _ = seeded
    other = bearer_client(app, "clinician", "someone-else")
    missing = client.delete("/api/auth/tokens/999999")
    foreign = other.delete(f"/api/auth/tokens/{ids['token']}")
    assert missing.status_code == foreign.status_code == 404
    assert missing.get_json()["error"]["message"].replace("999999", "N") == \
        foreign.get_json()["error"]["message"].replace(str(ids["token"]), "N")
    assert client.get("/api/studies/999999").status_code == 404
