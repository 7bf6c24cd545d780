"""Hostile input gets a 4xx that names the problem, never a 500: broken DICOM tags, NaN and huge
numbers, lone surrogates, deep nesting, NUL in a search, odd ids; and an unforeseen error is a JSON 500
carrying our request id."""

from __future__ import annotations

import logging

import pytest

import broken_dicoms

from .api_helpers import upload
from .test_bad_input import UPLOAD_URLS, assert_error

JSON_ENDPOINTS = [
    ("post", "/api/auth/login"),
    ("post", "/api/auth/tokens"),
    ("post", "/api/patients"),
    ("patch", "/api/patients/{p}"),
    ("put", "/api/patients/{p}"),
    ("patch", "/api/studies/{s}"),
    ("post", "/api/admin/users"),
    ("patch", "/api/admin/users/{u}"),
    ("post", "/api/admin/users/{u}/reset-password"),
]


@pytest.fixture()
def ids(admin_client, xray_png):
    """A patient, a study and a user for the endpoints with an id."""
    patient = admin_client.post("/api/patients", json={"name": "Ada", "mrn": "H-1"})
    if patient.status_code == 403:  # admins rank above clinicians, so this should not happen
        raise AssertionError(patient.get_json())
    study = admin_client.post("/api/studies", data=upload(xray_png(0)))
    user = admin_client.post("/api/admin/users", json={"username": "someone", "role": "clinician"})
    return {"p": patient.get_json()["id"], "s": study.get_json()["id"], "u": user.get_json()["user"]["id"]}


@pytest.mark.parametrize("case", sorted(broken_dicoms.BROKEN))
@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_a_dicom_with_broken_pixel_tags_is_422_naming_them(client, url, case, data_dir):
    build, words = broken_dicoms.BROKEN[case]
    assert_error(client.post(url, data=upload(build(), "broken.dcm")), 422, "unreadable_image", words)
    assert client.get("/api/studies").get_json()["total"] == 0
    assert not (data_dir / "images").exists()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"name": "A", "mrn": "N1", "age_years": NaN}', ("NaN",)),
        (b'{"name": "A", "mrn": "N1", "age_years": Infinity}', ("Infinity",)),
        (b'{"name": "A", "mrn": "N1", "age_years": -Infinity}', ("-Infinity",)),
        (b'{"name": "A", "mrn": "N1", "age_years": 1e400}', ("1e400", "too large")),
        (b'{"name": "\\ud800", "mrn": "N1"}', ("'name'", "surrogate")),
        (b'{"name": "A", "mrn": "N1", "notes": ["\\udfff"]}', ("surrogate",)),
        (b'{"\\ud800": 1}', ("surrogate",)),
        (b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}", ("nested", "32")),
        (b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", ("nested",)),
        (b"[" * 100_000 + b"]" * 100_000, ("nested",)),
    ],
    ids=["nan", "infinity", "minus-infinity", "1e400", "surrogate", "surrogate-in-list", "surrogate-key",
         "depth-41", "depth-1001", "depth-100000"],
)
def test_json_that_python_would_accept_but_the_api_must_not_is_400(client, raw, words):
    response = client.post("/api/patients", data=raw, content_type="application/json")
    assert_error(response, 400, "bad_request", *words)
    assert client.get("/api/patients").get_json()["total"] == 0


def test_a_surrogate_error_names_the_field(client):
    error = assert_error(client.post("/api/patients", data=b'{"name": "x\\ud800y", "mrn": "S1"}',
                                     content_type="application/json"), 400, "bad_request")
    assert error["field"] == "name"


def test_nesting_up_to_the_limit_is_parsed_and_judged_by_the_view(client):
    body = b'{"name": "A", "mrn": "D1", "notes": ' + b"[" * 31 + b"]" * 31 + b"}"
    assert_error(client.post("/api/patients", data=body, content_type="application/json"), 400, "invalid_field",
                 "'notes'")


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b'{"x": NaN}', b'{"username": "\\ud800", "password": "x"}', b"[" * 1000 + b"]" * 1000],
    ids=["nan", "surrogate", "deep"],
)
def test_every_json_endpoint_refuses_bad_json_with_400(admin_client, ids, method, url, raw):
    response = getattr(admin_client, method)(url.format(**ids), data=raw, content_type="application/json")
    assert_error(response, 400, "bad_request")


def test_a_lone_surrogate_as_login_username_is_400_without_credentials(anon_client):
    response = anon_client.post("/api/auth/login", data=b'{"username": "\\ud800", "password": "whatever12"}',
                                content_type="application/json")
    assert_error(response, 400, "bad_request", "surrogate")


def test_valid_non_ascii_text_and_surrogate_pairs_are_kept(client):
    created = client.post("/api/patients", data='{"name": "Zoë 李 \\ud83d\\ude00", "mrn": "U1"}'.encode(),
                          content_type="application/json")
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["name"] == "Zoë 李 \U0001F600"


@pytest.mark.parametrize("url", ["/api/patients?q=%00", "/api/patients?q=a%00b", "/api/studies?x%00=1",
                                 "/api/admin/audit?user=%00"])
def test_a_nul_in_a_query_parameter_is_400(admin_client, url):
    admin_client.post("/api/patients", json={"name": "Ada", "mrn": "Q1"})
    assert_error(admin_client.get(url), 400, "invalid_field", "NUL")


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/patients/0"), ("patch", "/api/patients/0"), ("delete", "/api/patients/0"),
     ("get", "/api/studies/0"), ("get", "/api/studies/0/image"), ("get", "/api/reports/0"),
     ("get", "/api/reports/0.pdf"), ("patch", "/api/admin/users/0"), ("post", "/api/admin/users/0/unlock"),
     ("delete", "/api/auth/tokens/0"), ("get", "/api/patients/-1"), ("get", "/api/patients/2147483648")],
)
def test_id_zero_and_out_of_range_ids_are_404(admin_client, method, url):
    assert_error(getattr(admin_client, method)(url, json={}), 404, "not_found")


def test_413_names_the_body_limit_when_the_body_is_too_big(tiny_run, predictor, tmp_path):
    from pneumoscan.api import create_app

    from .auth_helpers import bearer_client

    app = create_app({"RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "d",
                      "MAX_CONTENT_LENGTH": 2 * 1024 * 1024})
    error = assert_error(bearer_client(app).post("/api/predict", data=upload(bytes(3 * 1024 * 1024))), 413,
                         "payload_too_large", "2 MB")
    assert "parts" not in error["message"]


def test_413_for_a_form_with_too_many_parts_says_so_not_the_size(client, xray_png):
    fields = {f"f{i}": "x" for i in range(25)}
    error = assert_error(client.post("/api/predict", data=upload(xray_png(0), **fields)), 413,
                         "payload_too_large", "at most 20 parts")
    assert "MB" not in error["message"]


def test_a_client_request_id_is_not_echoed_or_stored(app, client, caplog):
    with caplog.at_level(logging.INFO, logger="pneumoscan.api.requests"):
        response = client.post("/api/patients", json={"name": "Ada", "mrn": "R1"},
                               headers={"X-Request-ID": "evil-id-from-client"})
    ours = response.headers["X-Request-ID"]
    assert ours != "evil-id-from-client" and len(ours) == 16
    from pneumoscan.api.orm import AuditEntry

    with app.extensions["pneumoscan"].db.session() as session:
        ids = {row.request_id for row in session.query(AuditEntry)}
    assert ours in ids and "evil-id-from-client" not in ids
    line = next(r.getMessage() for r in caplog.records if "/api/patients" in r.getMessage())
    assert f"id={ours}" in line and "client_id=evil-id-from-client" in line
    with caplog.at_level(logging.INFO, logger="pneumoscan.api.requests"):
        client.get("/api/patients", headers={"X-Request-ID": "a<script> fake=log"})
    assert not any("fake=log" in r.getMessage() for r in caplog.records)
    assert any("client_id=<invalid>" in r.getMessage() for r in caplog.records)


def test_an_unforeseen_error_is_a_json_500_with_the_request_id_and_a_logged_trace(client, monkeypatch, caplog):
    import pneumoscan.api.views.patients as patients

    def boom(*args, **kwargs):
        raise KeyError("something nobody expected")

    client.post("/api/patients", json={"name": "Ada", "mrn": "E1"})
    monkeypatch.setattr(patients, "patient_json", boom)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/patients")
    error = assert_error(response, 500, "internal_error", response.headers["X-Request-ID"])
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "nobody expected" not in response.get_data(as_text=True)
    assert any(r.exc_info and "nobody expected" in str(r.exc_info[1]) for r in caplog.records)


def test_an_error_that_escapes_flask_is_still_a_json_500(app, monkeypatch):
    def broken_handler(exc):
        raise RuntimeError("the error handler itself failed")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(app, "handle_exception", broken_handler)
    monkeypatch.setattr(app, "full_dispatch_request", lambda: (_ for _ in ()).throw(RuntimeError("view")))
    response = app.test_client().get("/api/health")
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("largest", [1, 9, 10, 57, 100, 305, 1000])
def test_the_id_regex_matches_exactly_one_to_the_largest_id(largest):
    import re

    from pneumoscan.api.views import decimal_range_regex

    pattern = re.compile(decimal_range_regex(largest) + r"\Z")
    assert [x for x in range(0, 3 * largest + 20) if pattern.match(str(x))] == list(range(1, largest + 1))
    assert not pattern.match("01") and not pattern.match("-1")


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_a_file_name_that_is_not_utf8_is_not_a_server_error(client, url, xray_png):
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\xed\xa0\x80\xff.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + xray_png(0) + b"\r\n--XX--\r\n")
    response = client.post(url, data=body, content_type="multipart/form-data; boundary=XX")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code == 201:
        response.get_json()["original_filename"].encode("utf-8")  # stored without a lone surrogate
    else:  # werkzeug drops a part whose header is not UTF-8: the file is then missing
        assert response.get_json()["error"]["field"] == "image"
