"""The API on PostgreSQL (``DATABASE_URL=postgresql+psycopg://...``): migrations, storage, audit.

Runs when ``PNEUMOSCAN_TEST_POSTGRES_URL`` names a disposable database (``.ci/run`` starts a local
PostgreSQL and sets it); every test empties that database first. Skips otherwise.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from pneumoscan.api import create_app

from .api_helpers import upload
from .auth_helpers import bearer_client

URL = os.environ.get("PNEUMOSCAN_TEST_POSTGRES_URL", "").strip()
pytestmark = pytest.mark.skipif(not URL, reason="PNEUMOSCAN_TEST_POSTGRES_URL is not set (no PostgreSQL to test on)")


@pytest.fixture()
def pg_app(tiny_run, predictor, tmp_path):
    engine = sa.create_engine(URL)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "data",
                       "DATABASE_URL": URL, "WEB_DIR": tmp_path / "no-web"})


def test_patients_studies_and_audit_rows_are_stored_in_postgresql(pg_app, xray_png):
    client = bearer_client(pg_app, "clinician")
    created = client.post("/api/patients", json={"name": "Pg Patient", "mrn": "PG-1", "sex": "female",
                                                 "age_years": 4})
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["id"]
    study = client.post("/api/studies", data=upload(xray_png(3, True), patient_id=str(pid)))
    assert study.status_code == 201, study.get_json()
    patient = client.get(f"/api/patients/{pid}").get_json()
    assert [s["id"] for s in patient["studies"]] == [study.get_json()["id"]]
    assert client.get("/api/patients?q=Pg").get_json()["total"] == 1

    engine = sa.create_engine(URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM studies")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() >= 3
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:  # the audit log is append-only
            conn.execute(sa.text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_a_duplicate_mrn_is_refused_by_postgresql_too(pg_app):
    client = bearer_client(pg_app, "clinician")
    body = {"name": "Pg Twin", "mrn": "PG-2", "sex": "male", "age_years": 3}
    assert client.post("/api/patients", json=body).status_code == 201
    again = client.post("/api/patients", json=body)
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "duplicate_mrn"


def test_the_sign_in_throttle_and_token_life_cycle_work_on_postgresql(pg_app):
    from .auth_helpers import PASSWORD, make_user

    pg_app.config["LOGIN_SLOWDOWN_SECONDS"] = 30  # no wait ends during the test
    make_user(pg_app, "pg-user")

    def login(password: str, address: str) -> int:
        client = pg_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client.post("/api/auth/login", json={"username": "pg-user", "password": password}).status_code

    assert [login("wrong password", "192.0.2.1") for _ in range(4)] == [401, 401, 401, 429]
    assert login(PASSWORD, "192.0.2.2") == 200  # another source is not held back
    admin = bearer_client(pg_app, "admin")
    script = bearer_client(pg_app, "clinician", "pg-script")
    user_id = next(u["id"] for u in admin.get("/api/admin/users").get_json()["items"] if u["username"] == "pg-script")
    tokens = admin.get(f"/api/admin/users/{user_id}/tokens").get_json()["items"]
    assert len(tokens) == 1 and tokens[0]["expires_at"] is not None
    assert admin.post(f"/api/admin/users/{user_id}/reset-password").status_code == 200
    assert script.get("/api/patients").status_code == 401
