"""Account rules answer by their ``AccountError.code``: the same code, status and message on every path
(admin API, accounts functions, the ``pneumoscan users`` CLI), never picked by matching message text."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from pneumoscan.api.accounts import AccountError, create_user, find_user, set_disabled, set_role
from pneumoscan.api.orm import AuditEntry

from .auth_helpers import PASSWORD, bearer_client, make_user


def _me(client) -> dict:
    return client.get("/api/auth/me").get_json()["user"]


@pytest.mark.parametrize("change", [{"role": "clinician"}, {"disabled": True}, {"role": "clinician", "disabled": True}],
                         ids=["demote", "disable", "both"])
def test_the_last_admin_is_kept_through_the_api(app, admin_client, change):
    me = _me(admin_client)
    answer = admin_client.patch(f"/api/admin/users/{me['id']}", json=change)
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "conflict" and "only enabled admin" in error["message"]
    after = _me(admin_client)  # still signed in: nothing changed, not even half of "both"
    assert after["role"] == "admin" and after["disabled"] is False
    with app.extensions["pneumoscan"].db.session() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.object_id == me["id"],
                                                       AuditEntry.outcome == "failure")).one()
        assert (row.action, row.status) == ("update", 409)


def test_demoting_and_disabling_the_last_admin_raise_the_same_code(app):
    make_user(app, "only-admin", "admin")
    with app.extensions["pneumoscan"].db.session() as session:
        admin = find_user(session, "only-admin")
        refusals = []
        for attempt in (lambda: set_role(session, admin, "clinician"), lambda: set_disabled(session, admin, True)):
            with pytest.raises(AccountError) as caught:
                attempt()
            refusals.append((caught.value.code, caught.value.status, str(caught.value)))
        assert refusals[0] == refusals[1] and refusals[0][:2] == ("last_admin", 409)
        assert admin.role == "admin" and admin.disabled is False


def test_with_a_second_admin_one_can_be_demoted_and_then_the_other_is_kept(app, admin_client):
    other = make_user(app, "second-admin", "admin")
    demoted = admin_client.patch(f"/api/admin/users/{other}", json={"role": "clinician"})
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "clinician"
    me = _me(admin_client)
    assert admin_client.patch(f"/api/admin/users/{me['id']}", json={"role": "clinician"}).status_code == 409


def test_a_disabled_admin_does_not_count_as_the_other_admin(app, admin_client):
    other = make_user(app, "sleeping-admin", "admin")
    assert admin_client.patch(f"/api/admin/users/{other}", json={"disabled": True}).status_code == 200
    me = _me(admin_client)
    assert admin_client.patch(f"/api/admin/users/{me['id']}", json={"disabled": True}).status_code == 409


def test_the_cli_refuses_to_disable_the_last_admin_with_the_same_message(tmp_path, monkeypatch, capsys):
    from pneumoscan.cli import main

    monkeypatch.setenv("PNEUMOSCAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "create", "root", "--role", "admin", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["users", "disable", "root"]) == 2
    err = capsys.readouterr().err
    assert "only enabled admin" in err and "Traceback" not in err


def test_a_taken_username_is_409_on_the_username_even_with_a_bad_password(admin_client):
    make = {"username": "twice", "role": "clinician"}
    assert admin_client.post("/api/admin/users", json=make).status_code == 201
    taken = admin_client.post("/api/admin/users", json={**make, "password": "short"})
    assert taken.status_code == 409
    error = taken.get_json()["error"]
    assert (error["code"], error["field"]) == ("conflict", "username") and "taken" in error["message"]


@pytest.mark.parametrize(("body", "field"), [({"username": "x"}, "username"),
                                             ({"username": "newbie", "role": "root"}, "role"),
                                             ({"username": "newbie", "password": "short"}, "password")])
def test_invalid_account_fields_are_400_naming_the_field(admin_client, body, field):
    answer = admin_client.post("/api/admin/users", json=body)
    assert answer.status_code == 400
    assert (answer.get_json()["error"]["code"], answer.get_json()["error"]["field"]) == ("invalid_field", field)


def test_an_unknown_role_on_update_names_the_role_field(app, admin_client):
    user = make_user(app, "plain-user")
    answer = admin_client.patch(f"/api/admin/users/{user}", json={"role": "root"})
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "role"


def test_account_error_codes_are_a_closed_set(app):
    with pytest.raises(ValueError, match="Unknown AccountError code"):
        AccountError("made up", "no_such_rule")
    with app.extensions["pneumoscan"].db.session() as session:
        create_user(session, "codes", "clinician", PASSWORD)
        with pytest.raises(AccountError) as taken:
            create_user(session, "codes", "clinician", PASSWORD)
    assert (taken.value.code, taken.value.status, taken.value.field) == ("username_taken", 409, "username")


def test_a_bad_token_lifetime_names_its_field(app):
    client = bearer_client(app, "clinician", "token-maker")
    answer = client.post("/api/auth/tokens", json={"name": "n", "expires_in_days": 0})
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "expires_in_days"
    nameless = client.post("/api/auth/tokens", json={"name": "", "expires_in_days": 5})
    assert nameless.status_code == 400 and nameless.get_json()["error"]["field"] == "name"
