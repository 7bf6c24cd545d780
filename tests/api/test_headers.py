"""Security headers on every response, a CSP that allows exactly each page's own inline scripts, and
patient data that is never cached."""

from __future__ import annotations

import base64
import hashlib

import pytest

from pneumoscan.api import create_app

from .api_helpers import upload

SCRIPT_A = 'self.__next_f.push([1,"page a"])'
SCRIPT_B = "(globalThis.TURBOPACK=[]).push(2)"


def _sha(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


@pytest.fixture()
def site(tmp_path):
    out = tmp_path / "out"
    (out / "exam").mkdir(parents=True)
    (out / "index.html").write_text(f'<html><script src="/_next/a.js" async=""></script><script>{SCRIPT_A}</script>'
                                    f'<div style="width:90%"></div></html>')
    (out / "exam" / "index.html").write_text(f'<html><script id="_R_">{SCRIPT_B}</script></html>')
    (out / "404.html").write_text(f"<html><script>{SCRIPT_B}</script></html>")
    return out


@pytest.fixture()
def web_app(tiny_run, predictor, tmp_path, site):
    return create_app({"RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "d", "WEB_DIR": site})


def _csp(response) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in response.headers["Content-Security-Policy"].split(";")}


@pytest.mark.parametrize("url", ["/", "/exam/", "/no/such/page/", "/api/health", "/api/nothing", "/api/patients",
                                 "/api/openapi.json"])
def test_every_response_carries_the_security_headers(web_app, url):
    response = web_app.test_client().get(url)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _csp(response)["frame-ancestors"] == "frame-ancestors 'none'"


def test_a_page_may_run_its_own_inline_scripts_and_nothing_else(web_app):
    client = web_app.test_client()
    home, exam, missing = _csp(client.get("/")), _csp(client.get("/exam/")), _csp(client.get("/nope/"))
    assert home["script-src"] == f"script-src 'self' {_sha(SCRIPT_A)}"
    assert exam["script-src"] == f"script-src 'self' {_sha(SCRIPT_B)}" == missing["script-src"]
    assert "unsafe-inline" not in home["script-src"] and "unsafe-eval" not in home["script-src"]
    assert home["style-src"] == "style-src 'self'" and home["object-src"] == "object-src 'none'"
    assert home["default-src"] == "default-src 'self'"


def test_a_rebuilt_page_gets_the_new_hashes(web_app, site):
    import os

    client = web_app.test_client()
    client.get("/")
    page = site / "index.html"
    page.write_text("<html><script>rebuilt()</script></html>")
    os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 10**9))
    assert _csp(client.get("/"))["script-src"] == f"script-src 'self' {_sha('rebuilt()')}"


def test_api_answers_load_nothing(client):
    csp = _csp(client.get("/api/health"))
    assert csp["default-src"] == "default-src 'none'"


def test_patient_data_is_never_cached(client, xray_png):
    study = client.post("/api/studies", data=upload(xray_png(0))).get_json()
    patient = client.post("/api/patients", json={"name": "Ada", "mrn": "C1"}).get_json()
    urls = ["/api/patients", f"/api/patients/{patient['id']}", "/api/studies", f"/api/studies/{study['id']}",
            f"/api/studies/{study['id']}/image", f"/api/studies/{study['id']}/heatmap",
            f"/api/studies/{study['id']}/original", f"/api/reports/{study['id']}", f"/api/reports/{study['id']}.pdf",
            "/api/patients/999"]
    for url in urls:
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert "Expires" not in response.headers, url
    pdf = client.get(f"/api/reports/{study['id']}.pdf")
    assert _csp(pdf) == {"frame-ancestors": "frame-ancestors 'none'"}  # Chromium's PDF viewer still draws it
    assert client.get("/api/model").headers.get("Cache-Control") != "no-store"  # not patient data
