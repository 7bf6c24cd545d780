"""Accounts in a real browser: sign in -> new examination -> report -> sign out -> the report URL now
leads to sign-in; an admin disables a user in the admin page, who then can no longer sign in.

The accounts are made with `pneumoscan users create` on the e2e server's own database (the data
folder the session's server fixture created), exactly as an operator would.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .e2e_files import REPO, child_birth_date

pytestmark = pytest.mark.e2e

CHROMIUM_CONTEXT = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def _server_data_dir(tmp_path_factory, base: str) -> Path:
    """The data folder of the server this session started (its log names the address it serves)."""
    if os.environ.get("PNEUMOSCAN_E2E_BASE_URL", "").strip():
        pytest.skip("the account stories create users on the server's database (not for an external server)")
    address = base.removeprefix("http://")
    for folder in sorted(tmp_path_factory.getbasetemp().glob("e2e_server_data*")):
        log = folder / "server.log"
        if (folder / "pneumoscan.db").exists() and log.is_file() and address in log.read_text(errors="replace"):
            return folder
    pytest.skip(f"cannot find the data folder of the server at {base}")


@pytest.fixture(scope="module")
def make_account(e2e_server, tmp_path_factory):
    """``make_account(role)`` -> (username, password), created with the CLI on the server's database."""
    data_dir = _server_data_dir(tmp_path_factory, e2e_server)
    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)

    def make(role: str) -> tuple[str, str]:
        username, password = f"e2e.{role}.{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
        cmd = [sys.executable, "-m", "pneumoscan", "users", "create", username, "--role", role, "--password-stdin"]
        done = subprocess.run(cmd, cwd=REPO, env=env, input=password + "\n", capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr  # a chosen password is never echoed
        return username, password

    return make


@pytest.fixture
def new_page(browser, e2e_server, page_errors):
    """``new_page()``: a page in its own browser context (own cookies), nobody signed in."""
    contexts = []

    def make():
        context = browser.new_context(base_url=e2e_server, accept_downloads=True, **CHROMIUM_CONTEXT)
        context.set_default_timeout(20_000)
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))
        return pg

    yield make
    for context in contexts:
        context.close()


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_out_closes_the_report(new_page, make_account, xray_image, page_errors, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    username, password = make_account("clinician")
    page = new_page()
    page.goto("/exam/")
    page.wait_for_url(re.compile(r"/login/\?next=%2Fexam%2F$"))
    _sign_in(page, username, password)
    page.wait_for_url(re.compile(r"/exam/$"))
    expect(page.get_by_test_id("signed-in-user")).to_contain_text(username)

    token = uuid.uuid4().hex[:6]
    page.get_by_label("Patient name").fill(f"Sign Out {token}")
    page.get_by_label("Patient ID (MRN)").fill(f"E2E-S-{token}")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Birth date").fill(child_birth_date())
    page.get_by_label("Chest X-ray image").set_input_files(str(xray_image))
    page.get_by_role("button", name="Analyse X-ray").click()
    page.wait_for_url(re.compile(r"/study/\?id=\d+$"), timeout=120_000)
    page.get_by_role("link", name="Open the report").click()
    page.wait_for_url(re.compile(r"/report/\?id=\d+$"))
    report_url = page.url
    expect(page.get_by_test_id("report-patient")).to_contain_text(f"Sign Out {token}")
    shot(page, "auth_01_report_signed_in")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_count(0)
    page.goto(report_url)
    page.wait_for_url(re.compile(r"/login/\?next=%2Freport%2F%3Fid%3D\d+$"))
    expect(page.get_by_text(f"Sign Out {token}")).to_have_count(0)
    shot(page, "auth_02_report_after_sign_out")
    # The server agrees: the old session cookie no longer opens the report.
    study_id = re.search(r"id=(\d+)", report_url).group(1)
    assert page.request.get(f"/api/reports/{study_id}").status == 401
    assert not [e for e in page_errors if "pageerror" in e], page_errors


def test_an_admin_disables_a_user_who_then_cannot_sign_in(new_page, make_account, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    admin_name, admin_password = make_account("admin")
    admin = new_page()
    admin.goto("/admin/")
    admin.wait_for_url(re.compile(r"/login/\?next=%2Fadmin%2F$"))
    _sign_in(admin, admin_name, admin_password)
    admin.wait_for_url(re.compile(r"/admin/$"))
    expect(admin.get_by_role("heading", name="Administration")).to_be_visible()

    # The admin creates an account; its password is shown once.
    newcomer = f"e2e.nurse.{uuid.uuid4().hex[:6]}"
    admin.get_by_label("New username").fill(newcomer)
    admin.get_by_label("Role").select_option("clinician")
    admin.get_by_role("button", name="Create user").click()
    password = admin.get_by_test_id("new-password").inner_text().strip()
    assert len(password) >= 16
    expect(admin.get_by_test_id(f"user-{newcomer}")).to_contain_text("active")

    # The new user signs in.
    user = new_page()
    user.goto("/patients/")
    user.wait_for_url(re.compile(r"/login/"))
    _sign_in(user, newcomer, password)
    user.wait_for_url(re.compile(r"/patients/$"))
    expect(user.get_by_test_id("signed-in-user")).to_contain_text(newcomer)

    # The admin disables them: their open session ends and they cannot sign in again.
    admin.get_by_role("button", name=f"Disable {newcomer}").click()
    expect(admin.get_by_test_id(f"user-{newcomer}")).to_contain_text("disabled")
    shot(admin, "auth_03_admin_disabled_user")
    assert user.request.get("/api/patients").status == 401
    user.context.clear_cookies()
    user.goto("/login/")
    _sign_in(user, newcomer, password)
    expect(user.get_by_test_id("login-error")).to_contain_text("disabled")
    shot(user, "auth_04_disabled_user_refused")

    # And the audit log shows it.
    admin.get_by_label("User", exact=True).fill(admin_name)
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_role("table", name="Audit log")).to_contain_text("disable")
