"""Studies: upload -> stored under the SHA-256 with its prediction and heatmap; read back."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from pneumoscan.data.decoding import decode_image

from .api_helpers import upload
from .test_bad_input import assert_error


def test_an_upload_is_stored_with_its_prediction(client, xray_png, predictor, data_dir):
    data = xray_png(1, True)
    response = client.post("/api/studies", data=upload(data, "chest.png"))
    assert response.status_code == 201, response.get_json()
    study = response.get_json()
    sha = hashlib.sha256(data).hexdigest()
    assert response.headers["Location"] == f"/api/studies/{study['id']}"
    assert (study["sha256"], study["original_filename"], study["format"], study["patient_id"]) == (
        sha, "chest.png", "png", None)
    assert study["uploaded_at"].endswith("Z") and study["dicom_tags"] is None
    assert study["image_url"] == f"/api/studies/{study['id']}/image"
    assert study["heatmap_url"] == f"/api/studies/{study['id']}/heatmap"
    assert study["report_url"] == f"/api/reports/{study['id']}"
    assert study["report_pdf_url"] == f"/api/reports/{study['id']}.pdf"
    expected = predictor.predict(decode_image(data).image)
    pred = study["prediction"]
    assert pred["label"] == expected.label and pred["probability"] == pytest.approx(expected.probability, abs=1e-6)
    assert (pred["threshold"], pred["model_version"]) == (predictor.threshold, predictor.model_version)
    # the original bytes on disk under their SHA-256, and the rows in the SQLite file
    assert (data_dir / "images" / sha[:2] / f"{sha}.png").read_bytes() == data
    with sqlite3.connect(data_dir / "pneumoscan.db") as db:
        row = db.execute("SELECT sha256, format FROM studies WHERE id = ?", (study["id"],)).fetchone()
        assert row == (sha, "png")
        model_id, prob = db.execute("SELECT model_id, probability FROM predictions WHERE study_id = ?",
                                    (study["id"],)).fetchone()
        assert model_id.startswith("sha256:") and prob == pytest.approx(expected.probability, abs=1e-6)
    assert client.get(f"/api/studies/{study['id']}").get_json() == study


def test_image_heatmap_and_original_are_served(client, xray_png):
    data = xray_png(3, True)
    sid = client.post("/api/studies", data=upload(data)).get_json()["id"]
    image = client.get(f"/api/studies/{sid}/image")
    assert image.mimetype == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(image.data))), np.asarray(decode_image(data).image))
    heatmap = client.get(f"/api/studies/{sid}/heatmap")
    assert heatmap.mimetype == "image/png" and Image.open(io.BytesIO(heatmap.data)).size == (96, 96)
    original = client.get(f"/api/studies/{sid}/original")
    assert original.data == data and "attachment" in original.headers["Content-Disposition"]


def test_a_dicom_study_keeps_its_tags_and_a_png_display_image(client, data_dir, monkeypatch, predictor):
    """The tiny model refuses real radiographs (it knows only synthetic ones), so its gate is
    opened wide for this test, and its age rule (the patient is an adult) switched off: what is
    checked here is DICOM storage, not the refusals."""
    monkeypatch.setattr(predictor.gate, "threshold", float("inf"))
    monkeypatch.setattr(predictor, "population", None)
    data = Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes()
    study = client.post("/api/studies", data=upload(data, "RG1_UNCR.dcm")).get_json()
    assert study["format"] == "dicom" and study["dicom_tags"]["modality"] == "CR"
    assert study["dicom_tags"]["photometric_interpretation"] == "MONOCHROME1"
    sha = study["sha256"]
    assert (data_dir / "images" / sha[:2] / f"{sha}.dcm").read_bytes() == data
    png = Image.open(io.BytesIO(client.get(f"/api/studies/{study['id']}/image").data))
    assert png.size == (1841, 1955) and png.mode == "L"


def test_the_same_image_twice_makes_two_studies_sharing_one_file(client, xray_png, data_dir):
    data = xray_png(4)
    a = client.post("/api/studies", data=upload(data, "a.png")).get_json()
    b = client.post("/api/studies", data=upload(data, "b.png")).get_json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert len([p for p in (data_dir / "images").rglob("*.png") if not p.name.endswith(".display.png")]) == 1
    assert a["prediction"]["probability"] == b["prediction"]["probability"]


def test_studies_belong_to_patients_and_can_be_reassigned(client, xray_png):
    pid = client.post("/api/patients", json={"name": "Ada", "mrn": "M1"}).get_json()["id"]
    study = client.post("/api/studies", data=upload(xray_png(5), patient_id=str(pid))).get_json()
    assert study["patient_id"] == pid
    loose = client.post("/api/studies", data=upload(xray_png(6))).get_json()
    assert loose["patient_id"] is None
    assert [s["id"] for s in client.get(f"/api/patients/{pid}").get_json()["studies"]] == [study["id"]]
    moved = client.patch(f"/api/studies/{loose['id']}", json={"patient_id": pid}).get_json()
    assert moved["patient_id"] == pid
    listed = client.get(f"/api/studies?patient_id={pid}").get_json()
    assert listed["total"] == 2 and [s["id"] for s in listed["items"]] == [loose["id"], study["id"]]
    assert client.patch(f"/api/studies/{loose['id']}", json={"patient_id": None}).get_json()["patient_id"] is None
    assert_error(client.patch(f"/api/studies/{loose['id']}", json={"patient_id": 999}), 404, "not_found")
    assert_error(client.patch(f"/api/studies/{loose['id']}", json={"patient_id": "1"}), 400, "invalid_field")
    assert_error(client.patch(f"/api/studies/{loose['id']}", json={"label": "NORMAL"}), 400, "invalid_field")
    assert_error(client.patch(f"/api/studies/{loose['id']}", json={}), 400, "missing_field")
