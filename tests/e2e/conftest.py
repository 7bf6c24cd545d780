"""Browser tests: the real PneumoScan server (``pneumoscan serve``) with a tiny trained run, driven in
Debian's Chromium by Playwright. They skip cleanly when Chromium, the built web app (web/out) or the
API server is missing.

Set ``PNEUMOSCAN_E2E_BASE_URL`` (for example ``http://127.0.0.1:8000``) to drive a server that is
already running instead of starting one.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .e2e_files import ARTIFACTS, REPO, make_dicom, make_photograph, xray_candidates

CHROMIUM = Path("/usr/bin/chromium")
WEB_OUT = REPO / "web" / "out"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 180


def _require_browser_and_web() -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not (WEB_OUT / "index.html").is_file():
        pytest.skip("web/out is missing: build the web app first (make web, or cd web && npm ci && npm run build)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0):
    import requests

    return requests.get(url, timeout=timeout)


@dataclass(frozen=True)
class Server:
    base: str
    username: str | None
    password: str | None


def _create_user(env: dict, username: str, password: str) -> None:
    cmd = [sys.executable, "-m", "pneumoscan", "users", "create", username, "--role", "clinician", "--password-stdin"]
    done = subprocess.run(cmd, cwd=REPO, env=env, input=password + "\n", capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def server(request, tmp_path_factory) -> Server:
    """A running PneumoScan server that serves web/out and the API, with a clinician account."""
    _require_browser_and_web()
    external = os.environ.get("PNEUMOSCAN_E2E_BASE_URL", "").strip().rstrip("/")
    if external:
        yield Server(external, os.environ.get("PNEUMOSCAN_E2E_USER"), os.environ.get("PNEUMOSCAN_E2E_PASSWORD"))
        return
    if importlib.util.find_spec("pneumoscan.api.server") is None:
        pytest.skip("the API server (pneumoscan.api.server, `pneumoscan serve`) is not there yet")
    # The shipped model (committed in runs/default): real X-rays from samples/ get real answers.
    shipped = REPO / "runs" / "default"
    run_dir = shipped if (shipped / "checkpoint.pt").is_file() else request.getfixturevalue("tiny_run")
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("e2e_server_data")
    log_path = data_dir / "server.log"
    env = {
        **os.environ,
        "PNEUMOSCAN_DATA_DIR": str(data_dir),
        "PNEUMOSCAN_WEB_DIR": str(WEB_OUT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    username, password = "e2e.clinician", secrets.token_urlsafe(18)
    _create_user(env, username, password)
    cmd = [sys.executable, "-m", "pneumoscan", "serve", str(run_dir), "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if _get(f"{base}/api/health").status_code == 200:
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer /api/health in {SERVER_START_TIMEOUT_S} s:\n"
                    f"{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.3)
        yield Server(base, username, password)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture(scope="session")
def e2e_server(server) -> str:
    """Base URL of the server."""
    return server.base


@pytest.fixture(scope="session")
def credentials(server) -> tuple[str, str]:
    """A clinician's username and password (PNEUMOSCAN_E2E_USER/PASSWORD for an external server)."""
    if not server.username or not server.password:
        pytest.skip("set PNEUMOSCAN_E2E_USER and PNEUMOSCAN_E2E_PASSWORD to drive an external server")
    return server.username, server.password


@pytest.fixture(scope="session")
def api(server, credentials):
    """A requests.Session signed in as the clinician (session cookie + CSRF header)."""
    import requests

    s = requests.Session()
    r = s.post(
        f"{server.base}/api/auth/login", json={"username": credentials[0], "password": credentials[1]}, timeout=30
    )
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    yield s
    s.close()


@pytest.fixture(scope="session")
def browser():
    _require_browser_and_web()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageErrors(list):
    """Uncaught exceptions and console errors seen in the page."""


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def _new_page(browser, base: str, page_errors):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(
        base_url=base, accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: msg.type == "error" and page_errors.append(f"console: {msg.text} ({msg.location.get('url')})"),
    )
    return context, pg


@pytest.fixture
def anon_page(browser, e2e_server, page_errors):
    """A fresh browser page, nobody signed in."""
    context, pg = _new_page(browser, e2e_server, page_errors)
    yield pg
    context.close()


@pytest.fixture
def page(browser, e2e_server, credentials, page_errors):
    """A fresh browser page signed in as the clinician (through POST /api/auth/login)."""
    context, pg = _new_page(browser, e2e_server, page_errors)
    r = context.request.post("/api/auth/login", data={"username": credentials[0], "password": credentials[1]})
    assert r.ok, r.text()
    yield pg
    context.close()


@pytest.fixture
def shot():
    """``shot(page, "name")`` saves a full-page screenshot to artifacts/e2e/name.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(pg, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(scope="session")
def xray_image(e2e_server, api, tmp_path_factory) -> Path:
    """The first candidate chest X-ray that the served model accepts (POST /api/predict stores nothing)."""
    tmp = tmp_path_factory.mktemp("e2e_xray")
    tried = []
    for path in xray_candidates(tmp):
        with open(path, "rb") as fh:
            r = api.post(f"{e2e_server}/api/predict", files={"image": (path.name, fh)}, timeout=120)
        if r.status_code == 200:
            print(f"e2e: uploading {path} ({r.json().get('label')})")
            return path
        tried.append(f"{path.name}: {r.status_code} {r.text[:200]}")
    pytest.fail("the served model refused every candidate X-ray:\n" + "\n".join(tried))


@pytest.fixture(scope="session")
def photograph(tmp_path_factory) -> Path:
    return make_photograph(tmp_path_factory.mktemp("e2e_photo") / "holiday_photo.jpg")


@pytest.fixture(scope="session")
def dicom_file(tmp_path_factory) -> Path:
    return make_dicom(tmp_path_factory.mktemp("e2e_dicom") / "chest_pa.dcm")
