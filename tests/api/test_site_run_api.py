"""A site-calibrated run served by the API: its operating point on the card and on every answer, and
the validation reports attached to it, with their figures."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from pneumoscan.api import create_app
from pneumoscan.api.report_documents import render_pdf
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.serving.predictor import Predictor

from .api_helpers import png_bytes, upload, xray
from .auth_helpers import bearer_client


@pytest.fixture(scope="module")
def site_predictor(site_run) -> Predictor:
    return Predictor.from_run(site_run)


@pytest.fixture()
def site_app(site_run, site_predictor, tmp_path):
    return create_app({"TESTING": True, "RUN_DIR": site_run, "PREDICTOR": site_predictor,
                       "DATA_DIR": tmp_path / "data", "WEB_DIR": tmp_path / "no-web"})


def test_a_run_as_trained_decides_at_its_validation_operating_point(client, tiny_run):
    _, meta = load_checkpoint(tiny_run)
    card = client.get("/api/model").get_json()
    op = card["operating_point"]
    assert op["source"] == "validation" and op["threshold"] == meta["threshold"]
    assert op["rule"] == meta["threshold_rule"] and op["label"] == "validation split (sensitivity >= 0.95)"
    assert card["validation_reports"] == []
    body = client.post("/api/predict", data=upload(png_bytes(xray(0, True)))).get_json()
    assert body["operating_point"] == op["label"]


def test_the_calibrated_run_shows_its_site_operating_point_on_the_card_and_every_answer(site_app, site_run):
    _, meta = load_checkpoint(site_run)
    anon = site_app.test_client()
    card = anon.get("/api/model").get_json()
    op = card["operating_point"]
    assert op["source"] == "site" and op["site"] == "st_marys" and op["threshold"] == meta["threshold"]
    assert op["original_threshold"] != op["threshold"] or op["recalibration"] == "platt"
    assert op["label"] == "site st_marys (sensitivity >= 0.90, platt)"
    assert card["threshold"] == meta["threshold"]
    assert "labelled images of site st_marys" in card["threshold_rule"]
    predicted = anon.post("/api/predict", data=upload(png_bytes(xray(1, True)))).get_json()
    assert predicted["operating_point"] == op["label"] and predicted["threshold"] == op["threshold"]
    clinician = bearer_client(site_app, "clinician")
    study = clinician.post("/api/studies", data=upload(png_bytes(xray(2, False)))).get_json()
    assert study["prediction"]["operating_point"] == op["label"]
    report = clinician.get(study["report_url"]).get_json()
    assert report["study"]["prediction"]["operating_point"] == op["label"]
    assert report["model"]["operating_point"] == op
    pdf = render_pdf(report, None, None)
    shown = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"of the operating point {op['label']}".replace(" ", "") in shown.replace(" ", "").replace("\n", "")


def test_attached_validation_reports_are_on_the_card_with_their_figures(site_app, site_run):
    anon = site_app.test_client()
    reports = anon.get("/api/model").get_json()["validation_reports"]
    on_disk = json.loads((site_run / "validation" / "st_marys" / "report.json").read_text())
    assert [r["source"] for r in reports] == ["st_marys"]
    r = reports[0]
    assert (r["n"], r["answered"], r["refused"]) == (on_disk["n"], on_disk["answered"], on_disk["refused"])
    assert r["auc"] == on_disk["metrics"]["auc"] and r["brier"] == on_disk["metrics"]["brier"]
    assert r["pneumonia_called_share"] == on_disk["pneumonia_called_share"]
    assert set(r["figures"]) == {p.stem for p in (site_run / "validation" / "st_marys").glob("*.png")}
    for name, url in r["figures"].items():
        assert url == f"/api/model/validation/st_marys/{name}.png"
        response = anon.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.data == (site_run / "validation" / "st_marys" / f"{name}.png").read_bytes()


@pytest.mark.parametrize("url", ["/api/model/validation/nowhere/reliability.png",
                                 "/api/model/validation/st_marys/nope.png",
                                 "/api/model/validation/st_marys/report.json",
                                 "/api/model/validation/st_marys/..%2F..%2Fcheckpoint.pt",
                                 "/api/model/validation/st_marys/predictions.csv"])
def test_unknown_or_sneaky_validation_figures_are_404_json_naming_what_exists(site_app, url):
    response = site_app.test_client().get(url)
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    if "%2F" not in url:  # the others never reach the view
        assert "Available: " in error["message"]
