"""POST /api/predict and /api/inspect: the run folder's model, and nothing else, answers."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from .api_helpers import jpeg_bytes, png_bytes, upload, xray


def _data_url_image(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_predict_answers_the_contract_and_stores_nothing(client, xray_png, data_dir, predictor):
    response = client.post("/api/predict", data=upload(xray_png(1, True)))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) >= {"label", "probability", "threshold", "model_version"}
    assert body["label"] in ("NORMAL", "PNEUMONIA") and 0 <= body["probability"] <= 1
    assert body["threshold"] == predictor.threshold and body["model_version"] == predictor.model_version
    assert body["label"] == ("PNEUMONIA" if body["probability"] >= body["threshold"] else "NORMAL")
    assert "heatmap" not in body
    assert not (data_dir / "images").exists()
    assert client.get("/api/studies").get_json()["total"] == 0


def test_predict_with_heatmap_adds_a_png_overlay(client, xray_png):
    body = client.post("/api/predict?heatmap=1", data=upload(xray_png(3, True))).get_json()
    overlay = _data_url_image(body["heatmap"])
    assert overlay.format == "PNG" and overlay.size == (96, 96)
    plain = client.post("/api/predict", data=upload(xray_png(3, True))).get_json()
    assert plain["probability"] == body["probability"]


def test_the_api_predicts_what_pneumoscan_predict_prints(client, tiny_run, tmp_path):
    """Same run folder, same files: the CLI (a separate process) and the API agree."""
    paths = []
    for seed in range(6):
        image = xray(seed, seed % 2 == 1)
        path = tmp_path / (f"x{seed}.png" if seed % 3 else f"x{seed}.jpeg")
        path.write_bytes(png_bytes(image) if seed % 3 else jpeg_bytes(image))
        paths.append(path)
    cli = subprocess.run(
        [sys.executable, "-m", "pneumoscan", "predict", str(tiny_run), *map(str, paths), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    expected = {Path(r["path"]).name: r for r in map(json.loads, cli.stdout.strip().splitlines())}
    assert len(expected) == len(paths)
    for path in paths:
        body = client.post("/api/predict", data=upload(path.read_bytes(), path.name)).get_json()
        want = expected[path.name]
        assert body["label"] == want["label"], path.name
        assert body["probability"] == pytest.approx(want["probability"], abs=1e-6), path.name
        assert body["threshold"] == want["threshold"] and body["model_version"] == want["model_version"]


def test_the_served_model_tells_the_synthetic_classes_apart(client):
    """A model that never saw this task (an ImageNet head) could not order these."""
    probs = {}
    for seed in range(8):
        body = client.post("/api/predict", data=upload(png_bytes(xray(seed, seed % 2 == 1)))).get_json()
        probs[seed] = body["probability"]
    pneumonia = [p for s, p in probs.items() if s % 2 == 1]
    normal = [p for s, p in probs.items() if s % 2 == 0]
    assert min(pneumonia) > max(normal)


def test_format_is_read_from_the_content_not_the_name(client, xray_png):
    body = client.post("/api/inspect", data=upload(xray_png(0), "scan.dcm")).get_json()
    assert body["format"] == "png"


def test_inspect_decodes_a_png_without_predicting_or_storing(client, xray_png, data_dir):
    response = client.post("/api/inspect", data=upload(xray_png(0)))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["format"], body["width"], body["height"]) == ("png", 96, 96)
    assert body["dicom"] is None and body["refusal"] is None
    assert _data_url_image(body["preview"]).size == (96, 96)
    assert "label" not in body and "probability" not in body
    assert not (data_dir / "images").exists()


def test_inspect_returns_the_dicom_patient_and_study_tags_for_prefill(client):
    data = Path(get_testdata_file("RG1_J2KI.dcm")).read_bytes()
    body = client.post("/api/inspect", data=upload(data, "IMG0001")).get_json()
    assert body["format"] == "dicom" and (body["width"], body["height"]) == (1841, 1955)
    dicom = body["dicom"]
    assert dicom["patient_name"] == "RG1 CompressedSamples" and dicom["patient_id"] == "9RG1"
    assert (dicom["sex"], dicom["birth_date"], dicom["study_date"]) == ("female", "1940-03-05", "2004-08-26")
    assert (dicom["modality"], dicom["view_position"]) == ("CR", "PA")
    preview = _data_url_image(body["preview"])
    assert max(preview.size) == 512 and preview.size[1] > preview.size[0]
    # Born 1940-03-05, imaged 2004-08-26: 64 years old, outside the run's intended 1-5 years.
    assert body["refusal"]["reason"] == "outside_intended_population"
    assert body["refusal"]["detail"]["age_years"] == 64.48
    assert "64 years old (from the DICOM tags)" in body["refusal"]["message"]


def test_inspect_warns_early_about_a_ct(client):
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    body = client.post("/api/inspect", data=upload(data, "ct.dcm")).get_json()
    assert body["dicom"]["modality"] == "CT" and body["refusal"]["reason"] == "ct_or_mr"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: Path(get_testdata_file("CT_small.dcm")).read_bytes(), "ct_or_mr"),
        (lambda: Path(get_testdata_file("MR_small.dcm")).read_bytes(), "ct_or_mr"),
        (lambda: Path(get_testdata_file("RG3_UNCR.dcm")).read_bytes(), "not_chest"),
        (lambda: png_bytes(Image.new("L", (256, 256), 0)), "blank_image"),
        (lambda: jpeg_bytes(Image.fromarray(__import__("skimage.data").data.astronaut())), "photograph"),
        (lambda: png_bytes(Image.fromarray(__import__("skimage.data").data.camera())), "out_of_distribution"),
        (lambda: png_bytes(Image.fromarray(__import__("skimage.data").data.moon())), "out_of_distribution"),
    ],
    ids=["ct", "mr", "extremity", "blank", "colour-photo", "gray-photo", "moon"],
)
def test_images_the_model_was_not_made_for_get_422_with_a_reason(client, make, reason, data_dir):
    for url in ("/api/predict", "/api/studies"):
        response = client.post(url, data=upload(make(), "upload.bin"))
        assert response.status_code == 422, (url, response.get_json())
        error = response.get_json()["error"]
        assert (error["code"], error["reason"]) == ("not_chest_xray", reason)
        assert "frontal" in error["message"] and "Traceback" not in error["message"]
    assert client.get("/api/studies").get_json()["total"] == 0
    assert not (data_dir / "images").exists()


def test_a_real_jpeg_chest_xray_dicom_decodes_and_is_judged(client):
    """The JPEG-baseline chest DICOM from the shared data (skipped in a fresh clone)."""
    path = Path(__file__).resolve().parents[2].parent / "shared/data/dicom/NIH_CR_chest_PA_jpeg_baseline.dcm"
    if not path.is_file():
        pytest.skip("../shared/data/dicom is absent")
    response = client.post("/api/predict", data=upload(path.read_bytes(), path.name))
    # The tiny test model was trained on synthetic images: a real radiograph is far from them.
    assert response.status_code == 422
    assert response.get_json()["error"]["reason"] == "out_of_distribution"
    body = client.post("/api/inspect", data=upload(path.read_bytes(), path.name)).get_json()
    assert body["dicom"]["modality"] == "CR" and body["refusal"] is None


def test_16_bit_png_and_rgb_jpeg_uploads_are_accepted(client, predictor):
    arr8 = np.asarray(xray(5, True)).copy()
    arr8[0, 0] = 255  # full range, so that the 16-bit copy scales back to exactly these values
    image = Image.fromarray(arr8)
    sixteen = client.post("/api/predict", data=upload(png_bytes(Image.fromarray(arr8.astype(np.uint16) * 257))))
    eight = client.post("/api/predict", data=upload(png_bytes(image)))
    rgb = client.post("/api/predict", data=upload(jpeg_bytes(image.convert("RGB")), "x.jpg"))
    assert sixteen.status_code == eight.status_code == rgb.status_code == 200, sixteen.get_json()
    assert sixteen.get_json()["probability"] == eight.get_json()["probability"]
    assert rgb.get_json()["label"] == eight.get_json()["label"]
