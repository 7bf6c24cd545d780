"""The audit log holds: no rewrite through REPLACE, anonymous refusals counted (not a row each), a row
for a request that failed on a locked database, the open image endpoints audited, and the status the
client really got."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from pneumoscan.api import create_app
from pneumoscan.api.audit import SPOOL_NAME
from pneumoscan.api.orm import ApiToken, AuditEntry, AuditRollup

from .api_helpers import upload
from .auth_helpers import bearer_client


def audit_rows(app) -> list[AuditEntry]:
    with app.extensions["pneumoscan"].db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def rollups(app) -> list[AuditRollup]:
    with app.extensions["pneumoscan"].db.session() as session:
        return list(session.scalars(select(AuditRollup).order_by(AuditRollup.id)))


def _execute(app, statement: str) -> None:
    with app.extensions["pneumoscan"].db.session() as session:
        session.execute(text(statement))


# --- append-only ---------------------------------------------------------------------------------


def test_insert_or_replace_and_upsert_cannot_rewrite_an_audit_row(app, client):
    client.get("/api/patients")
    row = audit_rows(app)[-1]
    for statement in (
        f"INSERT OR REPLACE INTO audit_log (id, at, action, outcome) VALUES ({row.id}, '2000-01-01', 'x', 'x')",
        f"REPLACE INTO audit_log (id, at, action, outcome) VALUES ({row.id}, '2000-01-01', 'x', 'x')",
        f"INSERT INTO audit_log (id, at, action, outcome) VALUES ({row.id}, '2000-01-01', 'x', 'x') "
        "ON CONFLICT (id) DO UPDATE SET action = 'x'",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _execute(app, statement)
    again = audit_rows(app)[-1]
    assert (again.id, again.action, again.username) == (row.id, "search", "test-clinician")
    _execute(app, "INSERT INTO audit_log (at, action, outcome) VALUES ('2000-01-01', 'new', 'success')")
    assert audit_rows(app)[-1].action == "new"  # a plain new row still goes in


def test_a_rollup_can_only_count_up(app, anon_client):
    anon_client.get("/api/patients")
    (rollup,) = rollups(app)
    for statement in ("DELETE FROM audit_rollups", "UPDATE audit_rollups SET count = 0",
                      "UPDATE audit_rollups SET key = 'other'",
                      f"INSERT OR REPLACE INTO audit_rollups (id, key, minute, action, outcome, count, first_at, "
                      f"last_at) VALUES ({rollup.id}, 'k', '2000-01-01', 'x', 'x', 1, '2000-01-01', '2000-01-01')"):
        with pytest.raises(DatabaseError, match="append-only"):
            _execute(app, statement)
    _execute(app, "UPDATE audit_rollups SET count = count + 1")
    assert rollups(app)[0].count == 2


# --- roll-ups ------------------------------------------------------------------------------------


def test_anonymous_refusals_are_counted_per_source_and_minute_not_a_row_each(app, anon_client):
    before = len(audit_rows(app))
    for _ in range(40):
        assert anon_client.get("/api/patients/1").status_code == 401
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    for _ in range(5):
        assert other.get("/api/patients/1").status_code == 401
    assert len(audit_rows(app)) == before  # the log did not grow
    by_source: dict[str, int] = {}
    for rollup in rollups(app):
        assert (rollup.action, rollup.status, rollup.object_type, rollup.object_id) == ("denied", 401, "patient", 1)
        by_source[rollup.client_address] = by_source.get(rollup.client_address, 0) + rollup.count
    assert by_source == {"127.0.0.1": 40, "10.9.8.7": 5}
    assert len(rollups(app)) <= 4  # one per source and minute (a minute may have turned meanwhile)


def test_throttled_sign_ins_are_counted_and_a_checked_password_keeps_its_row(app):
    app.config["LOGIN_ADDRESS_LIMIT"] = 2
    client = app.test_client()
    for _ in range(2):
        assert client.post("/api/auth/login", json={"username": "nobody", "password": "x" * 12}).status_code == 401
    for _ in range(6):
        assert client.post("/api/auth/login", json={"username": "nobody", "password": "x" * 12}).status_code == 429
    failed = [r for r in audit_rows(app) if r.action == "sign_in_failed"]
    assert [r.status for r in failed] == [401, 401]
    assert sum(r.count for r in rollups(app) if (r.action, r.status) == ("sign_in_failed", 429)) == 6


# --- failures on a busy database -----------------------------------------------------------------


@pytest.fixture()
def busy_app(tiny_run, predictor, data_dir, tmp_path):
    """An app that waits only half a second for a write lock (instead of 30 s)."""
    return create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": data_dir,
                       "WEB_DIR": tmp_path / "no-web", "DATABASE_BUSY_TIMEOUT": 0.5})


class _WriteLock:
    """Another process's write transaction on the SQLite file (what a long import or backup does)."""

    def __init__(self, data_dir: Path):
        self.conn = sqlite3.connect(data_dir / "pneumoscan.db", timeout=5, isolation_level=None)

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *_):
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_a_busy_database_cannot_fail_a_request_through_the_tokens_last_used_update(busy_app, data_dir, caplog):
    client = bearer_client(busy_app, "clinician")
    with caplog.at_level(logging.WARNING, logger="pneumoscan"), _WriteLock(data_dir):
        me = client.get("/api/auth/me")
    assert me.status_code == 200 and me.get_json()["user"]["username"] == "test-clinician"
    assert any("last_used_at" in r.getMessage() and "goes on" in r.getMessage() for r in caplog.records)
    assert client.get("/api/auth/me").status_code == 200  # once free, it is recorded
    with busy_app.extensions["pneumoscan"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.last_used_at.is_not(None)))


def test_a_request_that_fails_on_a_locked_database_still_gets_its_audit_row(busy_app, data_dir):
    client = bearer_client(busy_app, "clinician")
    with _WriteLock(data_dir):
        failed = client.post("/api/patients", json={"name": "Locked Out", "mrn": "L-1"})
        assert failed.status_code == 500 and "request" in failed.get_json()["error"]["message"]
        assert (data_dir / SPOOL_NAME).stat().st_size > 0  # kept on disk while the database is busy
    assert client.get("/api/auth/me").status_code == 200  # the next request writes the spooled row
    rows = [(r.action, r.object_type, r.outcome, r.status, r.username, r.request_id) for r in audit_rows(busy_app)]
    assert rows == [("create", "patient", "failure", 500, "test-clinician", failed.headers["X-Request-ID"])]
    assert (data_dir / SPOOL_NAME).stat().st_size == 0


def test_spooled_rows_are_written_at_start_up(busy_app, data_dir, tiny_run, predictor, tmp_path):
    client = bearer_client(busy_app, "clinician")
    with _WriteLock(data_dir):
        assert client.post("/api/patients", json={"name": "Locked Out", "mrn": "L-1"}).status_code == 500
    restarted = create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": data_dir,
                            "WEB_DIR": tmp_path / "no-web"})
    assert [(r.action, r.status) for r in audit_rows(restarted)] == [("create", 500)]


# --- the open image endpoints ----------------------------------------------------------------------


def test_predict_is_audited_with_the_caller_the_answer_and_no_image(app, anon_client, client, xray_png, data_dir):
    answer = anon_client.post("/api/predict", data=upload(xray_png(1, True))).get_json()
    signed_in = client.post("/api/predict", data=upload(xray_png(2, False))).get_json()
    rows = [r for r in audit_rows(app) if r.action == "predict"]
    assert [(r.username, r.outcome, r.status, r.client_address) for r in rows] == [
        (None, "success", 200, "127.0.0.1"), ("test-clinician", "success", 200, "127.0.0.1")]
    for row, body in zip(rows, (answer, signed_in)):
        assert f"returned {body['label']} p={body['probability']:.4f}" in row.detail
        assert f"sha256:{body['sha256'][:16]}" in row.detail
    assert not (data_dir / "images").exists()


def test_a_refused_prediction_is_audited_with_its_reason(app, client):
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    assert client.post("/api/predict", data=upload(ct, "ct.dcm")).status_code == 422
    (row,) = [r for r in audit_rows(app) if r.action == "predict"]
    assert (row.outcome, row.status, row.username) == ("failure", 422, "test-clinician")
    assert row.detail == "not_chest_xray: dicom; refused ct_or_mr"


def test_inspect_is_audited_saying_that_dicom_identity_was_returned(app, anon_client, xray_png):
    dicom = Path(get_testdata_file("RG1_J2KI.dcm")).read_bytes()
    assert anon_client.post("/api/inspect", data=upload(dicom, "IMG0001")).status_code == 200
    assert anon_client.post("/api/inspect", data=upload(xray_png(0, False))).status_code == 200
    rows = [r for r in audit_rows(app) if r.action == "inspect"]
    assert [(r.user_id, r.status) for r in rows] == [(None, 200), (None, 200)]
    assert rows[0].detail.startswith("dicom sha256:")
    # the RG1 patient is 64 on the study date: the early warning names the intended-population refusal
    assert rows[0].detail.endswith("returned DICOM identity patient_name, patient_id, birth_date; "
                                   "refusal outside_intended_population")
    assert rows[1].detail.endswith("returned no patient identity")


# --- the status the client got ---------------------------------------------------------------------


def test_audit_rows_record_the_status_each_answer_had(app, client, xray_png):
    answers = []
    pid = client.post("/api/patients", json={"name": "Status Check", "mrn": "S-1"})
    answers.append(pid.status_code)
    pid = pid.get_json()["id"]
    study = client.post("/api/studies", data=upload(xray_png(1, True), patient_id=str(pid)))
    answers.append(study.status_code)
    for method, url, kwargs in (("GET", f"/api/patients/{pid}", {}),
                                ("PATCH", f"/api/studies/{study.get_json()['id']}", {"json": {"patient_id": None}}),
                                ("GET", f"/api/reports/{study.get_json()['id']}", {}),
                                ("DELETE", f"/api/patients/{pid}", {}),
                                ("GET", f"/api/patients/{pid}", {})):
        answers.append(client.open(url, method=method, **kwargs).status_code)
    assert answers == [201, 201, 200, 200, 200, 204, 404]
    assert [r.status for r in audit_rows(app)] == answers
