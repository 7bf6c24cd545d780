"""Every kind of bad request gets the right 4xx with a JSON error naming the problem: never a 500,
never a stack trace, and nothing half-stored."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from .api_helpers import jpeg_bytes, upload


def bomb_png(side: int = 30000) -> bytes:
    """A complete 1-bit PNG of side x side pixels (~110 KB compressed, 900 megapixels decoded)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(side // 1000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png()


def _truncated_jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8)
    data = jpeg_bytes(Image.fromarray(noise))
    return data[: len(data) // 2]


def assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["code"] == code
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "File \"" not in text
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]
    return error


UPLOAD_URLS = ("/api/predict", "/api/inspect", "/api/studies")


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_an_empty_body_is_415_asking_for_a_multipart_upload(client, url):
    assert_error(client.post(url), 415, "unsupported_media_type", "multipart/form-data")


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_a_form_without_the_image_field_is_400_missing_field(client, url, xray_png):
    error = assert_error(client.post(url, data=upload(xray_png(0), field="file")), 400, "missing_field", "'image'")
    assert "file" in error["message"]  # names what was sent instead


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_a_json_body_instead_of_a_file_is_415(client, url):
    assert_error(client.post(url, json={"image": "xray.png"}), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("make", "status", "code", "words"),
    [
        (lambda: b"", 400, "empty_file", ("empty",)),
        (lambda: b"this is a text file that someone renamed to xray.png\n" * 10, 415, "unsupported_media_type",
         ("text file", "png")),
        (lambda: b"GIF89a" + bytes(200), 415, "unsupported_media_type", ("gif",)),
        (_truncated_jpeg, 422, "unreadable_image", ("damaged",)),
        (lambda: Path(get_testdata_file("rtplan.dcm")).read_bytes(), 422, "no_pixel_data", ("no image",)),
        (lambda: Path(get_testdata_file("RG1_J2KI.dcm")).read_bytes()[:5000], 422, "unreadable_image", ()),
        (lambda: b"\x89PNG\r\n\x1a\n" + bytes(40), 422, "unreadable_image", ()),
        (lambda: jpeg_bytes(Image.new("L", (4, 4), 100)), 422, "image_too_small", ("pixels",)),
    ],
    ids=["zero-byte", "text-named-png", "gif", "truncated-jpeg", "dicom-without-pixels", "truncated-dicom",
         "png-header-only", "tiny-image"],
)
@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_bad_files_get_the_right_4xx(client, url, make, status, code, words, data_dir):
    assert_error(client.post(url, data=upload(make(), "xray.png")), status, code, *words)
    assert client.get("/api/studies").get_json()["total"] == 0
    assert not (data_dir / "images").exists()


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_a_decompression_bomb_is_refused_before_decoding(client, url, bomb):
    assert len(bomb) < 1024 * 1024  # small enough to pass any upload limit
    assert_error(client.post(url, data=upload(bomb, "bomb.png")), 422, "image_too_large", "30000x30000")


@pytest.mark.parametrize("url", UPLOAD_URLS)
def test_an_upload_over_the_size_limit_is_413(tiny_run, predictor, tmp_path, url):
    from pneumoscan.api import create_app

    app = create_app({"RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": tmp_path / "d",
                      "MAX_CONTENT_LENGTH": 1024 * 1024})
    big = bytes(1024 * 1024 + 1)
    from .auth_helpers import bearer_client

    assert_error(bearer_client(app).post(url, data=upload(big, "big.png")), 413, "payload_too_large", "1 MB")


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("delete", "/api/health", ["GET"]),
        ("put", "/api/model", ["GET"]),
        ("get", "/api/predict", ["POST"]),
        ("get", "/api/inspect", ["POST"]),
        ("delete", "/api/studies", ["GET", "POST"]),
        ("post", "/api/reports/1", ["GET"]),
        ("post", "/api/patients/1", ["DELETE", "GET", "PATCH", "PUT"]),
    ],
)
def test_wrong_methods_are_405_naming_the_allowed_ones(client, method, url, allowed):
    response = getattr(client, method)(url)
    error = assert_error(response, 405, "method_not_allowed", method.upper())
    assert error["allowed"] == allowed
    assert set(response.headers["Allow"].split(", ")) == set(allowed)


@pytest.mark.parametrize(
    "url",
    ["/api/patients/999", "/api/studies/999", "/api/studies/999/image", "/api/studies/999/heatmap",
     "/api/studies/999/original", "/api/reports/999", "/api/reports/999.pdf", "/api/nothing-here",
     "/api/patients/abc"],
)
def test_unknown_ids_and_paths_are_404(client, url):
    assert_error(client.get(url), 404, "not_found")


def test_an_upload_for_an_unknown_patient_is_404_and_stores_nothing(client, xray_png, data_dir):
    assert_error(client.post("/api/studies", data=upload(xray_png(0), patient_id="42")), 404, "not_found",
                 "patient 42")
    assert_error(client.post("/api/studies", data=upload(xray_png(0), patient_id="x")), 400, "invalid_field")
    assert client.get("/api/studies").get_json()["total"] == 0
    assert not (data_dir / "images").exists()


@pytest.mark.parametrize("query", ["heatmap=maybe", "heatmap=2"])
def test_a_bad_query_flag_is_400(client, xray_png, query):
    assert_error(client.post(f"/api/predict?{query}", data=upload(xray_png(0))), 400, "invalid_field", "heatmap")


def test_a_failure_while_storing_leaves_nothing_half_stored(client, xray_png, data_dir, monkeypatch):
    """Break the last step of the transaction: the files written before it are removed again."""
    ok = client.post("/api/studies", data=upload(xray_png(0)))
    assert ok.status_code == 201
    kept = sorted(p.relative_to(data_dir) for p in (data_dir / "images").rglob("*") if p.is_file())

    import pneumoscan.api.intake as intake  # where the upload's transaction runs (store_study)

    def boom(study):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(intake, "study_json", boom)
    response = client.post("/api/studies", data=upload(xray_png(2, True)))
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "internal_error" and "nothing was stored" in error["message"]
    assert "disk full" not in response.get_data(as_text=True)  # no internals leak
    monkeypatch.undo()

    assert sorted(p.relative_to(data_dir) for p in (data_dir / "images").rglob("*") if p.is_file()) == kept
    assert not list((data_dir / "heatmaps").rglob("*.png"))[1:]  # only the first study's heatmap
    with sqlite3.connect(data_dir / "pneumoscan.db") as db:
        assert db.execute("SELECT count(*) FROM studies").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 1
    assert client.get(f"/api/studies/{ok.get_json()['id']}/image").status_code == 200  # the first is intact
