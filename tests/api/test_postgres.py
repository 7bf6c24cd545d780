"""The API on PostgreSQL (``DATABASE_URL=postgresql+psycopg://...``): migrations, storage, audit.

Runs when ``PNEUMOSCAN_TEST_POSTGRES_URL`` names a disposable database (``.ci/run`` starts a local
PostgreSQL and sets it); every test empties that database first. Skips otherwise. The role-split test
also needs ``PNEUMOSCAN_TEST_POSTGRES_APP_URL``: the same database as a second role that owns nothing.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from pneumoscan.api import create_app

from .api_helpers import upload
from .auth_helpers import bearer_client

URL = os.environ.get("PNEUMOSCAN_TEST_POSTGRES_URL", "").strip()
APP_URL = os.environ.get("PNEUMOSCAN_TEST_POSTGRES_APP_URL", "").strip()
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


def test_anonymous_refusals_roll_up_and_the_rollups_only_count_up_in_postgresql(pg_app):
    anon = pg_app.test_client()
    for _ in range(7):
        assert anon.get("/api/patients/1").status_code == 401
    engine = sa.create_engine(URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() == 0
            assert conn.execute(sa.text("SELECT sum(count) FROM audit_rollups")).scalar() == 7
        for statement in ("UPDATE audit_rollups SET count = 0", "DELETE FROM audit_rollups",
                          "TRUNCATE audit_rollups", "TRUNCATE audit_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_concurrent_first_report_requests_make_one_row_in_postgresql(pg_app, xray_png):
    import threading

    client = bearer_client(pg_app, "clinician")
    sid = client.post("/api/studies", data=upload(xray_png(4, True))).get_json()["id"]
    token = client.environ_base["HTTP_AUTHORIZATION"]
    barrier, codes = threading.Barrier(8), []

    def first() -> None:
        own = pg_app.test_client()
        own.environ_base["HTTP_AUTHORIZATION"] = token
        barrier.wait()
        codes.append(own.get(f"/api/reports/{sid}").status_code)

    threads = [threading.Thread(target=first) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 8
    engine = sa.create_engine(URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM reports")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.skipif(not APP_URL, reason="PNEUMOSCAN_TEST_POSTGRES_APP_URL is not set (no second role)")
def test_the_apps_role_cannot_undo_the_audit_trail(pg_app, tiny_run, predictor, tmp_path):
    from pneumoscan.api.audit import grant_app_role

    owner = sa.create_engine(URL)
    grant_app_role(owner, sa.engine.make_url(APP_URL).username)
    app_engine = sa.create_engine(APP_URL)
    try:
        with app_engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO audit_log (at, action, outcome) VALUES (now(), 'probe', 'success')"))
        for statement in ("DROP TRIGGER audit_log_append_only ON audit_log",
                          "ALTER TABLE audit_log DISABLE TRIGGER ALL", "DROP TABLE audit_log",
                          "TRUNCATE audit_log", "DELETE FROM audit_log", "UPDATE audit_log SET action = 'x'",
                          "DROP TRIGGER audit_rollups_only_count ON audit_rollups",
                          "DROP FUNCTION audit_log_append_only() CASCADE"):
            with pytest.raises(sa.exc.DBAPIError) as refused, app_engine.begin() as conn:
                conn.execute(sa.text(statement))
            assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value), statement
    finally:
        app_engine.dispose()
    # The server runs as that role: the schema is at head, so start-up needs no DDL.
    app = create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "app",
                      "DATABASE_URL": APP_URL, "WEB_DIR": tmp_path / "no-web"})
    client = bearer_client(app, "clinician")
    assert client.post("/api/patients", json={"name": "Role Split", "mrn": "RS-1"}).status_code == 201
    try:
        with owner.connect() as conn:
            assert conn.execute(sa.text("SELECT action FROM audit_log ORDER BY id")).scalars().all() == [
                "probe", "create"]
    finally:
        owner.dispose()
