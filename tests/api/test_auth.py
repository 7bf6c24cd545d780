"""Sign-in sessions, CSRF, API tokens, the sign-in throttle, the audit trail, and passwords that never
leak."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import func, select, text

from pneumoscan.api.orm import AuditEntry, AuditRollup

from .api_helpers import png_bytes, xray
from .auth_helpers import PASSWORD, bearer_client, make_user, session_client


def audit_rows(app) -> list[AuditEntry]:
    with app.extensions["pneumoscan"].db.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def rolled_up(app) -> dict[str, int]:
    """Action -> how many refusals of callers without credentials were counted in ``audit_rollups``."""
    with app.extensions["pneumoscan"].db.session() as session:
        return dict(session.execute(select(AuditRollup.action, func.sum(AuditRollup.count))
                                    .group_by(AuditRollup.action)).all())


# --- sessions ------------------------------------------------------------------------------------


def test_sign_in_sets_a_hardened_cookie_and_me_names_the_user(app):
    make_user(app, "nora")
    client = app.test_client()
    response = client.post("/api/auth/login", json={"username": "Nora", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "nora" and body["user"]["role"] == "clinician" and body["csrf_token"]
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("pneumoscan_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain http in the test; behind HTTPS it is Secure
    me = client.get("/api/auth/me").get_json()
    assert me["user"]["username"] == "nora" and me["via"] == "session" and me["csrf_token"] == body["csrf_token"]


def test_the_cookie_is_secure_over_https(app):
    make_user(app, "sid")
    response = app.test_client().post("/api/auth/login", json={"username": "sid", "password": PASSWORD},
                                      base_url="https://localhost")
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))


def test_a_state_changing_request_without_the_csrf_token_is_refused(app):
    client, csrf = session_client(app)
    refused = client.post("/api/patients", json={"name": "A", "mrn": "X1"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/patients", json={"name": "A", "mrn": "X1"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert client.get("/api/patients").get_json()["total"] == 0  # nothing was stored
    ok = client.post("/api/patients", json={"name": "A", "mrn": "X1"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.get("/api/patients").status_code == 200  # reads need no token


def test_sign_out_ends_the_session_on_the_server(app):
    client, csrf = session_client(app)
    cookie = client.get_cookie("pneumoscan_session").value
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    replay = app.test_client()
    replay.set_cookie("pneumoscan_session", cookie)
    answer = replay.get("/api/patients")
    assert answer.status_code == 401 and "ended" in answer.get_json()["error"]["message"]


def test_an_idle_session_expires(app):
    client, _ = session_client(app)
    with app.extensions["pneumoscan"].db.session() as session:
        session.execute(text("UPDATE auth_sessions SET last_seen_at = '2000-01-01 00:00:00'"))
    answer = client.get("/api/patients")
    assert answer.status_code == 401 and "expired" in answer.get_json()["error"]["message"]


def test_bad_sign_in_bodies_get_clear_errors(anon_client):
    assert anon_client.post("/api/auth/login", data="x").status_code == 415
    missing = anon_client.post("/api/auth/login", json={"username": "a"})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "password"
    assert anon_client.post("/api/auth/login", json={"username": 3, "password": "x"}).status_code == 400
    unknown = anon_client.post("/api/auth/login", json={"username": "ghost", "password": "whatever123"})
    assert unknown.status_code == 401 and unknown.get_json()["error"]["code"] == "invalid_credentials"


# --- API tokens ----------------------------------------------------------------------------------


def test_an_api_token_works_until_revoked(app):
    client, csrf = session_client(app)
    created = client.post("/api/auth/tokens", json={"name": "nightly"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    token = created.get_json()["token"]
    assert token.startswith("psk_")
    listed = client.get("/api/auth/tokens").get_json()["items"]
    assert [t["name"] for t in listed] == ["nightly"] and "token" not in listed[0]
    script = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/patients", headers=auth).status_code == 200
    assert script.post("/api/patients", json={"name": "B", "mrn": "T1"}, headers=auth).status_code == 201  # no CSRF
    revoked = client.delete(f"/api/auth/tokens/{created.get_json()['id']}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 204
    assert script.get("/api/patients", headers=auth).status_code == 401
    assert script.get("/api/patients", headers={"Authorization": "Bearer psk_made_up"}).status_code == 401
    assert script.get("/api/patients", headers={"Authorization": "Basic abc"}).status_code == 401


def test_tokens_are_stored_hashed(app):
    client = bearer_client(app)
    token = client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    with app.extensions["pneumoscan"].db.session() as session:
        stored = session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in stored and all(len(h) == 64 for h in stored)


# --- abuse ---------------------------------------------------------------------------------------


def _fail(client, username="victim"):
    return client.post("/api/auth/login", json={"username": username, "password": "wrong password"})


def test_repeated_failures_slow_down_the_same_source_and_an_admin_clears_it(app, admin_client):
    make_user(app, "victim")
    app.config["LOGIN_SLOWDOWN_SECONDS"] = 30  # no wait ends during the test
    client = app.test_client()
    for _ in range(3):
        assert _fail(client).status_code == 401
    slowed = _fail(client)
    assert slowed.status_code == 429 and slowed.get_json()["error"]["code"] == "too_many_attempts"
    assert int(slowed.headers["Retry-After"]) >= 1
    right = client.post("/api/auth/login", json={"username": "victim", "password": PASSWORD})
    assert right.status_code == 429  # even the right password has to wait its turn from this source
    victim = next(u for u in admin_client.get("/api/admin/users").get_json()["items"] if u["username"] == "victim")
    assert victim["locked_until"] is None  # nothing is locked
    assert admin_client.post(f"/api/admin/users/{victim['id']}/unlock").status_code == 200
    assert client.post("/api/auth/login", json={"username": "victim", "password": PASSWORD}).status_code == 200
    actions = [r.action for r in audit_rows(app)]
    failed = actions.count("sign_in_failed") + rolled_up(app).get("sign_in_failed", 0)  # 429s are counted
    assert "unlock" in actions and failed == 5 and "lock" not in actions


def test_one_address_is_refused_after_too_many_failures(app):
    app.config["LOGIN_ADDRESS_LIMIT"] = 4
    client = app.test_client()
    for i in range(4):
        assert _fail(client, f"nobody{i}").status_code == 401
    refused = _fail(client, "someone-else")
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_a_disabled_user_cannot_sign_in_and_loses_their_sessions(app, admin_client):
    client, _ = session_client(app, "leaver")
    user_id = next(u["id"] for u in admin_client.get("/api/admin/users").get_json()["items"]
                   if u["username"] == "leaver")
    assert admin_client.patch(f"/api/admin/users/{user_id}", json={"disabled": True}).get_json()["disabled"]
    assert client.get("/api/patients").status_code == 401
    again = app.test_client().post("/api/auth/login", json={"username": "leaver", "password": PASSWORD})
    assert again.status_code == 403 and again.get_json()["error"]["code"] == "account_disabled"


def test_the_last_admin_cannot_be_disabled(app, admin_client):
    me = admin_client.get("/api/auth/me").get_json()["user"]
    answer = admin_client.patch(f"/api/admin/users/{me['id']}", json={"disabled": True})
    assert answer.status_code == 409 and "admin" in answer.get_json()["error"]["message"]


# --- audit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "action", "object_type"),
    [
        ("GET", "/api/patients/{p}", {}, "view", "patient"),
        ("PATCH", "/api/patients/{p}", {"json": {"notes": "cough"}}, "update", "patient"),
        ("GET", "/api/patients?q=ada", {}, "search", "patient"),
        ("GET", "/api/studies/{s}", {}, "view", "study"),
        ("PATCH", "/api/studies/{s}", {"json": {"patient_id": None}}, "update", "study"),
        ("GET", "/api/studies/{s}/image", {}, "download", "study"),
        ("GET", "/api/reports/{s}", {}, "view", "report"),
        ("GET", "/api/reports/{s}.pdf", {}, "download", "report"),
        ("POST", "/api/patients", {"json": {"name": "New", "mrn": "A-2"}}, "create", "patient"),
    ],
)
def test_each_action_writes_exactly_one_audit_row(app, client, method, url, kwargs, action, object_type):
    patient = client.post("/api/patients", json={"name": "Ada Lovelace", "mrn": "A-1"}).get_json()["id"]
    study = client.post("/api/studies", data={"image": (io.BytesIO(png_bytes(xray(0, False))), "x.png"),
                                              "patient_id": str(patient)}).get_json()["id"]
    before = len(audit_rows(app))
    response = client.open(url.format(p=patient, s=study), method=method, **kwargs)
    assert response.status_code < 300
    rows = audit_rows(app)[before:]
    assert len(rows) == 1, [(r.action, r.object_type) for r in rows]
    row = rows[0]
    assert (row.action, row.object_type, row.outcome, row.username) == (action, object_type, "success",
                                                                        "test-clinician")
    if action != "search" and method != "POST":
        assert row.patient_id == patient or (object_type == "study" and method == "PATCH")
    assert row.client_address and row.at is not None


def test_creating_a_study_writes_one_row_naming_the_patient(app, client):
    patient = client.post("/api/patients", json={"name": "Ada", "mrn": "A-1"}).get_json()["id"]
    before = len(audit_rows(app))
    study = client.post("/api/studies", data={"image": (io.BytesIO(png_bytes(xray(0, False))), "x.png"),
                                              "patient_id": str(patient)}).get_json()["id"]
    rows = audit_rows(app)[before:]
    assert [(r.action, r.object_type, r.object_id, r.patient_id) for r in rows] == [
        ("create", "study", study, patient)]


def test_a_failed_action_writes_its_own_row(app, client):
    before = len(audit_rows(app))
    assert client.get("/api/patients/4242").status_code == 404
    assert client.post("/api/patients", json={"name": ""}).status_code == 400
    rows = audit_rows(app)[before:]
    assert [(r.action, r.outcome, r.status, r.object_id) for r in rows] == [
        ("view", "failure", 404, 4242), ("create", "failure", 400, None)]


def test_refused_requests_are_recorded(app, anon_client, client):
    before = len(audit_rows(app))
    anon_client.get("/api/patients/1")
    client.get("/api/admin/audit")
    rows = audit_rows(app)[before:]
    assert [(r.action, r.outcome, r.status) for r in rows] == [("denied", "denied", 403)]  # the signed-in one
    assert rolled_up(app) == {"denied": 1}  # the anonymous 401: counted per source and minute


def test_sign_in_and_failed_sign_in_are_audited(app):
    make_user(app, "amy")
    client = app.test_client()
    client.post("/api/auth/login", json={"username": "amy", "password": "not the one"})
    client.post("/api/auth/login", json={"username": "amy", "password": PASSWORD})
    assert [(r.action, r.username) for r in audit_rows(app)] == [("sign_in_failed", "amy"), ("sign_in", "amy")]


def test_the_audit_log_cannot_be_changed(app, client):
    client.get("/api/patients")
    from sqlalchemy.exc import DatabaseError

    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"):
            with app.extensions["pneumoscan"].db.session() as session:
                session.execute(text(statement))


def test_admins_filter_the_audit_log_by_user_patient_and_date(app, client, admin_client):
    p1 = client.post("/api/patients", json={"name": "One", "mrn": "F-1"}).get_json()["id"]
    p2 = client.post("/api/patients", json={"name": "Two", "mrn": "F-2"}).get_json()["id"]
    client.get(f"/api/patients/{p1}")
    client.get(f"/api/patients/{p2}")
    by_patient = admin_client.get(f"/api/admin/audit?patient_id={p1}").get_json()
    assert {(e["action"], e["patient_id"]) for e in by_patient["items"]} == {("create", p1), ("view", p1)}
    by_user = admin_client.get("/api/admin/audit?user=test-clinician").get_json()
    assert by_user["total"] == 4 and {e["username"] for e in by_user["items"]} == {"test-clinician"}
    assert admin_client.get("/api/admin/audit?since=2000-01-01&until=2000-01-02").get_json()["total"] == 0
    bad = admin_client.get("/api/admin/audit?since=yesterday")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "since"


# --- secrets never leak --------------------------------------------------------------------------


def test_a_password_never_appears_in_logs_or_responses(app, admin_client, caplog):
    secret = "Sup3r-secret-passphrase"
    bodies = []
    with caplog.at_level(logging.DEBUG):
        created = admin_client.post("/api/admin/users", json={"username": "pat", "role": "clinician",
                                                               "password": secret})
        bodies.append(created.get_data(as_text=True))
        user_id = created.get_json()["user"]["id"]
        client = app.test_client()
        for password in ("wrong-" + secret, secret):
            bodies.append(client.post("/api/auth/login", json={"username": "pat", "password": password})
                          .get_data(as_text=True))
        bodies.append(client.get("/api/auth/me").get_data(as_text=True))
        bodies.append(admin_client.get("/api/admin/users").get_data(as_text=True))
        bodies.append(admin_client.get("/api/admin/audit").get_data(as_text=True))
        reset = admin_client.post(f"/api/admin/users/{user_id}/reset-password", json={"password": secret + "2"})
        bodies.append(reset.get_data(as_text=True))
    assert created.status_code == 201 and created.get_json()["password"] is None
    everything = caplog.text + "".join(bodies)
    assert secret not in everything
    with app.extensions["pneumoscan"].db.session() as session:
        hashes = session.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert all(h.startswith("scrypt$") and secret not in h for h in hashes)


def test_a_generated_password_is_shown_once(admin_client):
    created = admin_client.post("/api/admin/users", json={"username": "gen", "role": "admin"}).get_json()
    assert len(created["password"]) >= 16
    assert created["password"] not in admin_client.get("/api/admin/users").get_data(as_text=True)
    taken = admin_client.post("/api/admin/users", json={"username": "gen"})
    assert taken.status_code == 409


def test_patient_names_stay_out_of_the_request_log(client, caplog):
    with caplog.at_level(logging.INFO, logger="pneumoscan.api.requests"):
        client.get("/api/patients?q=Lovelace")
    assert "Lovelace" not in caplog.text and "q=%3Chidden%3E" in caplog.text or "q=<hidden>" in caplog.text


def test_the_first_admin_is_created_once(tmp_path, capsys):
    from pneumoscan.api.accounts import ensure_first_admin
    from pneumoscan.api.storage import Database

    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.upgrade(lock_dir=tmp_path)
    password = ensure_first_admin(db)
    assert password and ensure_first_admin(db) is None
    db.dispose()


def test_the_users_cli_creates_lists_disables_and_issues_tokens(tmp_path, monkeypatch, capsys):
    from pneumoscan.cli import main

    monkeypatch.setenv("PNEUMOSCAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "create", "carol", "--role", "admin", "--password-stdin"]) == 0
    assert "password" not in capsys.readouterr().out
    assert main(["users", "create", "dave"]) == 0
    assert "password (shown once):" in capsys.readouterr().out
    assert main(["users", "token", "dave"]) == 0
    assert capsys.readouterr().out.startswith("psk_")
    assert main(["users", "disable", "dave"]) == 0
    assert main(["users", "reset-password", "dave"]) == 0
    assert "new password" in capsys.readouterr().out
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and "dave" in listing and "disabled" in listing
    assert main(["users", "create", "dave"]) == 2  # taken: one line, no stack trace
    assert "taken" in capsys.readouterr().err
