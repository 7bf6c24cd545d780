"""Sign-in that cannot be turned against users: the throttle answers alike for known and unknown
usernames, an attacker cannot lock the real user out, addresses come from a trusted proxy only, and
passwords follow NIST SP 800-63B. API tokens expire and die with a password reset or a disabled account."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from pneumoscan.api.accounts import find_user
from pneumoscan.api.orm import ApiToken, LoginAttempt

from .auth_helpers import PASSWORD, bearer_client, make_user, token_for


@pytest.fixture(autouse=True)
def _long_waits(app):
    """Waits of 30 s (at most 60 s): none of them ends while a test runs, so no answer depends on timing."""
    app.config["LOGIN_SLOWDOWN_SECONDS"] = 30


def _login(app, username, password="wrong password", address="192.0.2.1", **headers):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)


def _answer(response) -> tuple:
    body = response.get_json()["error"]
    return response.status_code, body["code"], body["message"], response.headers.get("Retry-After")


def test_a_known_and_an_unknown_username_get_the_same_answers(app):
    make_user(app, "known")
    known = [_answer(_login(app, "known")) for _ in range(6)]
    unknown = [_answer(_login(app, "nobody-here", address="192.0.2.2")) for _ in range(6)]
    assert [a[:3] for a in known] == [a[:3] for a in unknown]
    assert [a[0] for a in known] == [401, 401, 401, 429, 429, 429]


def test_an_attacker_cannot_lock_the_real_user_out(app):
    """Hundreds of failures from one address and single failures from many: the owner still gets in."""
    make_user(app, "dr.who", "admin")
    attacker = [_login(app, "dr.who", address="203.0.113.66").status_code for _ in range(30)]
    assert attacker == [401] * 3 + [429] * 27
    for i in range(15):  # a botnet: one try each from 15 addresses
        _login(app, "dr.who", address=f"198.51.100.{i + 1}")
    with app.extensions["pneumoscan"].db.session() as session:
        assert session.scalar(select(LoginAttempt).where(LoginAttempt.success.is_(False)).limit(1)) is not None
    owner = _login(app, "dr.who", PASSWORD, address="192.0.2.50")
    assert owner.status_code == 200, owner.get_json()
    assert _login(app, "dr.who", PASSWORD, address="203.0.113.66").status_code == 429  # the attacker's address


def test_many_sources_slow_each_other_down_on_one_account(app):
    make_user(app, "target")
    for i in range(10):
        assert _login(app, "target", address=f"198.51.100.{i + 1}").status_code == 401
    again = _login(app, "target", address="198.51.100.1")
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert _login(app, "target", address="198.51.100.99").status_code == 401  # a new source still gets its try


def test_one_address_is_refused_for_every_username_after_its_limit(app):
    app.config["LOGIN_ADDRESS_LIMIT"] = 5
    for i in range(5):
        assert _login(app, f"user{i}", address="203.0.113.9").status_code == 401
    make_user(app, "innocent")
    assert _login(app, "innocent", PASSWORD, address="203.0.113.9").status_code == 429
    assert _login(app, "innocent", PASSWORD, address="203.0.113.10").status_code == 200


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(app, caplog):
    app.config["LOGIN_ADDRESS_LIMIT"] = 3
    make_user(app, "bob")
    # No trusted proxy: a client cannot pick its address by writing the header.
    for i in range(3):
        _login(app, f"x{i}", address="192.0.2.7", **{"X-Forwarded-For": f"10.9.9.{i}"})
    assert _login(app, "bob", PASSWORD, address="192.0.2.7", **{"X-Forwarded-For": "10.9.9.77"}).status_code == 429

    app.config["TRUSTED_PROXIES"] = ("10.0.0.0/24",)
    proxy = "10.0.0.5"
    for i in range(3):  # one client behind the proxy fails three times, even while faking the header
        _login(app, f"y{i}", address=proxy, **{"X-Forwarded-For": f"6.6.6.{i}, 198.51.100.20"})
    assert _login(app, "bob", PASSWORD, address=proxy, **{"X-Forwarded-For": "198.51.100.20"}).status_code == 429
    with caplog.at_level(logging.INFO, logger="pneumoscan.api.requests"):
        other = _login(app, "bob", PASSWORD, address=proxy, **{"X-Forwarded-For": "198.51.100.21, 10.0.0.9"})
    assert any(r.getMessage().startswith('198.51.100.21 "POST /api/auth/login"') for r in caplog.records)
    assert other.status_code == 200  # another user behind the same proxy (and a second proxy hop) is not refused
    with app.extensions["pneumoscan"].db.session() as session:
        addresses = {a.client_address for a in session.scalars(select(LoginAttempt))}
    assert addresses == {"192.0.2.7", "198.51.100.20", "198.51.100.21"}


def test_the_trusted_proxies_setting_is_read_and_checked():
    from pneumoscan.api.settings import Settings, SettingsError

    settings = Settings.from_env({"PNEUMOSCAN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ,::1"})
    assert settings.flask_config()["TRUSTED_PROXIES"] == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(SettingsError, match="PNEUMOSCAN_TRUSTED_PROXIES"):
        Settings.from_env({"PNEUMOSCAN_TRUSTED_PROXIES": "proxy.example"})


# --- passwords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "words"),
    [("password12", "common"), ("1234567890", "common"), (" " * 10, "guess"), ("newperson12", "username"),
     ("newperson", "10"), ("qwertyuiop", "common"), ("aaaaaaaaaaaaaaaa", "guess"), ("pneumoscan2024", "guess")],
    ids=["password12", "digits", "spaces", "username", "short", "keyboard", "repeat", "service-name"],
)
def test_weak_passwords_are_refused_saying_why(admin_client, password, words):
    response = admin_client.post("/api/admin/users", json={"username": "newperson12", "password": password})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field" and words in error["message"].lower()


def test_a_strong_passphrase_is_accepted_and_a_reset_is_checked_too(app, admin_client):
    created = admin_client.post("/api/admin/users", json={"username": "nurse", "password": "violet ferry lantern"})
    assert created.status_code == 201
    user_id = created.get_json()["user"]["id"]
    weak = admin_client.post(f"/api/admin/users/{user_id}/reset-password", json={"password": "password123"})
    assert weak.status_code == 400 and weak.get_json()["error"]["field"] == "password"


def test_generated_passwords_pass_the_rules():
    from pneumoscan.api.accounts import generate_password, password_problem

    assert all(password_problem(generate_password(), "admin") is None for _ in range(20))


# --- tokens --------------------------------------------------------------------------------------


def test_a_token_expires_after_90_days_by_default_or_as_asked(app, client):
    made = client.post("/api/auth/tokens", json={"name": "export"}).get_json()
    expires = dt.datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=90))) < dt.timedelta(minutes=5)
    short = client.post("/api/auth/tokens", json={"name": "short", "expires_in_days": 1}).get_json()
    assert dt.datetime.fromisoformat(short["expires_at"].replace("Z", "+00:00")) < expires
    for bad in (0, 731, "30", True, 1.5, None):
        response = client.post("/api/auth/tokens", json={"name": "x", "expires_in_days": bad})
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "expires_in_days", bad


def test_an_expired_token_is_refused(app):
    client = bearer_client(app, "clinician", "expiring")
    assert client.get("/api/patients").status_code == 200
    with app.extensions["pneumoscan"].db.session() as session:
        for token in session.scalars(select(ApiToken)):
            token.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    refused = client.get("/api/patients")
    assert refused.status_code == 401 and "expired" in refused.get_json()["error"]["message"]


def _user_id(app, username: str) -> int:
    with app.extensions["pneumoscan"].db.session() as session:
        return find_user(session, username).id


def test_a_password_reset_revokes_the_users_tokens(app, admin_client):
    script = bearer_client(app, "clinician", "resetme")
    assert script.get("/api/patients").status_code == 200
    assert admin_client.post(f"/api/admin/users/{_user_id(app, 'resetme')}/reset-password").status_code == 200
    assert script.get("/api/patients").status_code == 401


def test_disabling_revokes_tokens_and_enabling_does_not_bring_them_back(app, admin_client):
    script = bearer_client(app, "clinician", "leaver2")
    user_id = _user_id(app, "leaver2")
    assert admin_client.patch(f"/api/admin/users/{user_id}", json={"disabled": True}).status_code == 200
    assert admin_client.patch(f"/api/admin/users/{user_id}", json={"disabled": False}).status_code == 200
    refused = script.get("/api/patients")
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]["message"]
    tokens = admin_client.get(f"/api/admin/users/{user_id}/tokens").get_json()["items"]
    assert len(tokens) == 1 and tokens[0]["revoked_at"] is not None


def test_an_admin_lists_and_revokes_another_users_tokens(app, admin_client):
    raw = token_for(app, "scripted")
    user_id = _user_id(app, "scripted")
    listed = admin_client.get(f"/api/admin/users/{user_id}/tokens").get_json()["items"]
    assert [t["name"] for t in listed] == ["tests"] and "token" not in listed[0]
    assert raw not in admin_client.get(f"/api/admin/users/{user_id}/tokens").get_data(as_text=True)
    other = _user_id(app, "test-admin")
    assert admin_client.delete(f"/api/admin/users/{other}/tokens/{listed[0]['id']}").status_code == 404
    assert admin_client.delete(f"/api/admin/users/{user_id}/tokens/{listed[0]['id']}").status_code == 204
    assert app.test_client().get("/api/patients", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert admin_client.get("/api/admin/users/999999/tokens").status_code == 404
    actions = [e["action"] for e in admin_client.get("/api/admin/audit").get_json()["items"]]
    assert "revoke" in actions


def test_the_migration_gives_existing_tokens_an_expiry(tmp_path):
    from sqlalchemy import create_engine, text

    from pneumoscan.api.storage import downgrade_database, upgrade_database

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_database(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, username, role, password_hash, disabled, failed_logins, created_at,"
                          " password_changed_at) VALUES (1, 'u', 'clinician', 'x', 0, 0, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) "
                          "VALUES (1, 'old', 'h', 'psk_', '2026-01-01')"))
    upgrade_database(engine, "0003")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT expires_at FROM api_tokens")).scalar() is not None
    downgrade_database(engine, "0002")
    with engine.begin() as conn:
        columns = [row[1] for row in conn.execute(text("PRAGMA table_info(api_tokens)"))]
    assert "expires_at" not in columns


@pytest.mark.parametrize("start", ["0002", "0003", "0004", "0006"])
def test_a_database_at_either_parallel_revision_upgrades_to_one_head(tmp_path, start):
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect

    from pneumoscan.api.storage import alembic_config, upgrade_database

    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade_database(engine, start)
    upgrade_database(engine)
    tables = inspect(engine)
    assert "expires_at" in [c["name"] for c in tables.get_columns("api_tokens")]
    assert "audit_rollups" in tables.get_table_names()
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == ["0008"]
