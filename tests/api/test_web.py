"""The web app's static export is served at / (trailing-slash routes), never over the API."""

from __future__ import annotations

import pytest

from pneumoscan.api import create_app


@pytest.fixture()
def site(tmp_path):
    out = tmp_path / "out"
    (out / "exam").mkdir(parents=True)
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "index.html").write_text("<html>home</html>")
    (out / "exam" / "index.html").write_text("<html>exam</html>")
    (out / "404.html").write_text("<html>not found</html>")
    (out / "_next" / "static" / "chunks" / "app.js").write_text("console.log(1)")
    return out


@pytest.fixture()
def web_client(tiny_run, predictor, tmp_path, site):
    return create_app({"RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "d",
                       "WEB_DIR": site}).test_client()


def test_pages_and_assets_are_served(web_client):
    assert web_client.get("/").data == b"<html>home</html>"
    assert web_client.get("/exam/").data == b"<html>exam</html>"
    assert web_client.get("/exam").data == b"<html>exam</html>"
    asset = web_client.get("/_next/static/chunks/app.js")
    assert asset.data == b"console.log(1)" and "max-age=31536000" in asset.headers["Cache-Control"]


def test_unknown_pages_get_the_exports_404_page(web_client):
    response = web_client.get("/no/such/page/")
    assert response.status_code == 404 and response.data == b"<html>not found</html>"


def test_the_api_is_never_shadowed_by_the_site(web_client):
    assert web_client.get("/api/health").get_json()["status"] == "ok"
    missing = web_client.get("/api/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert web_client.get("/api/predict").status_code == 405


def test_paths_cannot_escape_the_export(web_client):
    for url in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/exam/../../secret"):
        assert web_client.get(url).status_code == 404


def test_without_an_export_the_root_points_at_the_api(client):
    body = client.get("/").get_json()
    assert body["openapi"] == "/api/openapi.json"
    assert client.get("/exam/").status_code == 404
