"""Accounts for the API tests: users and API tokens made straight in the app's database."""

from __future__ import annotations

from flask import Flask

from pneumoscan.api.accounts import create_token, create_user, find_user

PASSWORD = "correct horse battery"


def make_user(app: Flask, username: str, role: str = "clinician", password: str = PASSWORD) -> int:
    """Create (or find) a user; returns its id."""
    with app.extensions["pneumoscan"].db.session() as session:
        user = find_user(session, username)
        if user is None:
            user, _ = create_user(session, username, role, password)
        return user.id


def token_for(app: Flask, username: str, role: str = "clinician") -> str:
    """An API token of a (new) user with ``role``."""
    make_user(app, username, role)
    with app.extensions["pneumoscan"].db.session() as session:
        _, raw = create_token(session, find_user(session, username), "tests")
    return raw


def bearer_client(app: Flask, role: str = "clinician", username: str | None = None):
    """A Flask test client whose every request carries a ``role`` user's API token."""
    client = app.test_client()
    token = token_for(app, username or f"test-{role}", role)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def session_client(app: Flask, username: str = "web-clinician", role: str = "clinician",
                   password: str = PASSWORD):
    """A test client signed in like the web app (cookie); returns (client, csrf token)."""
    make_user(app, username, role, password)
    client = app.test_client()
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return client, response.get_json()["csrf_token"]
