"""The subtype through the API: a tiny run given a head fitted on synthetic features answers the pattern
under pneumonia answers only, in /api/predict, the stored study, the report JSON and its PDF."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

from pneumoscan.api import create_app
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.models.subtype import SubtypeHead
from pneumoscan.serving.predictor import Predictor

from .api_helpers import png_bytes, upload, xray
from .auth_helpers import bearer_client

TEST_ACCURACY = 0.8231


@pytest.fixture(scope="module")
def subtype_predictor(tiny_run) -> Predictor:
    model, meta = load_checkpoint(tiny_run)
    rng = np.random.default_rng(3)
    dim = model.classifier.in_features
    x = rng.normal(size=(60, dim))
    y = (x[:, 0] > 0).astype(int)
    head = SubtypeHead.fit(x, y, c=0.1, features="pooled")
    head.metrics = {"test": {"accuracy": {"value": TEST_ACCURACY, "ci_low": 0.78, "ci_high": 0.86}}}
    return Predictor(model, {**meta, "subtype_head": head.to_dict()}, run_dir=tiny_run)


@pytest.fixture()
def client(tiny_run, subtype_predictor, tmp_path):
    app = create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": subtype_predictor,
                      "DATA_DIR": tmp_path / "data", "WEB_DIR": tmp_path / "no-web"})
    return bearer_client(app, "clinician")


def _answers(client, path: str) -> list[dict]:
    """Predictions of several pneumonia-like and normal synthetic X-rays."""
    out = []
    for seed in range(8):
        body = client.post(path, data=upload(png_bytes(xray(seed, seed % 2 == 0)))).get_json()
        out.append(body if path == "/api/predict" else body["prediction"])
    labels = {a["label"] for a in out}
    assert labels == {"NORMAL", "PNEUMONIA"}, labels
    return out


def _check(answer: dict) -> None:
    if answer["label"] == "NORMAL":
        assert answer["subtype"] is None
        return
    s = answer["subtype"]
    assert s["pattern"] in ("bacterial", "viral") and 0 <= s["probability"] <= 1
    assert s["head_test_accuracy"] == TEST_ACCURACY
    p_viral = s["probability"] if s["pattern"] == "viral" else 1 - s["probability"]
    assert s["wording"].startswith(f"Pattern more like {s['pattern']} pneumonia (P(viral) = {p_viral:.2f}, viral from ")
    assert s["wording"].endswith(
        "); this head was right on 82% of test images; supports, does not replace, clinical judgement.")


def test_predict_gives_the_pattern_only_under_pneumonia(client):
    for answer in _answers(client, "/api/predict"):
        _check(answer)


def test_stored_studies_keep_the_pattern_and_the_report_and_pdf_state_it(client):
    answers = _answers(client, "/api/studies")
    studies = client.get("/api/studies").get_json()["items"]
    for study in studies:
        _check(study["prediction"])
    pneumonia = next(s for s in studies if s["prediction"]["label"] == "PNEUMONIA")
    normal = next(s for s in studies if s["prediction"]["label"] == "NORMAL")
    wording = pneumonia["prediction"]["subtype"]["wording"]
    assert wording in [a["subtype"]["wording"] for a in answers if a["subtype"]]
    report = client.get(f"/api/reports/{pneumonia['id']}").get_json()
    assert report["study"]["prediction"]["subtype"]["wording"] == wording

    def pdf_text(sid: int) -> str:
        pdf = client.get(f"/api/reports/{sid}.pdf").data
        return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())

    assert wording in pdf_text(pneumonia["id"])
    assert "Pattern more like" not in pdf_text(normal["id"])


def test_without_a_head_the_field_is_null(predictor):
    assert predictor.subtype_head is None
    pred = predictor.predict(xray(0, True))
    assert pred.subtype is None and pred.to_dict()["subtype"] is None


def test_the_model_card_shows_the_served_head_and_none_without_it(client, subtype_predictor, app):
    head = client.get("/api/model").get_json()["subtype_head"]
    assert head["features"] == "pooled" and head["threshold"] == subtype_predictor.subtype_head.threshold
    assert head["metrics"]["test"]["accuracy"]["value"] == TEST_ACCURACY and "coef" not in head
    assert bearer_client(app, "clinician").get("/api/model").get_json()["subtype_head"] is None
