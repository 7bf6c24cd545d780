"""Reports: JSON with patient, study, model and the notice; the PDF with both images."""

from __future__ import annotations

import re
import zlib

from pneumoscan.api.reports import NOTICE, render_pdf

from .api_helpers import upload


def _study_with_patient(client, xray_png) -> int:
    pid = client.post("/api/patients", json={"name": "Zoë Ångström", "mrn": "MRN-77", "sex": "female",
                                             "birth_date": "2019-05-01", "referring_doctor": "Dr. Ng"}).get_json()["id"]
    return client.post("/api/studies", data=upload(xray_png(7, True), "cxr.png", patient_id=str(pid))).get_json()["id"]


def test_report_json_has_everything_a_reader_needs(client, xray_png, predictor):
    sid = _study_with_patient(client, xray_png)
    report = client.get(f"/api/reports/{sid}").get_json()
    assert report["notice"] == NOTICE and "does not replace a clinician's diagnosis" in report["notice"]
    assert report["patient"]["name"] == "Zoë Ångström" and report["patient"]["mrn"] == "MRN-77"
    assert report["study"]["id"] == sid and len(report["study"]["sha256"]) == 64
    pred = report["study"]["prediction"]
    assert pred["threshold"] == predictor.threshold and 0 <= pred["probability"] <= 1
    model = report["model"]
    assert model["model_version"] == predictor.model_version
    assert model["training_data"]["fingerprint"].startswith("sha256:")
    assert "auc" in model["metrics"] and model["metrics"]["n"] > 0
    assert report["generated_at"].endswith("Z")
    assert client.get(f"/api/reports/{sid}").get_json()["id"] == report["id"]  # issued once, shown again


def test_report_pdf_is_a_pdf_with_the_xray_and_the_heatmap(client, xray_png):
    sid = _study_with_patient(client, xray_png)
    response = client.get(f"/api/reports/{sid}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Subtype\s*/Image", pdf)) == 2
    assert b"PneumoScan chest X-ray screening report" in pdf  # the document title


def test_the_pdf_text_holds_the_result_the_ids_and_the_notice(client, xray_png, data_dir):
    """Rendered with the built-in Latin-1 font, whose text can be read back from the page stream."""
    sid = _study_with_patient(client, xray_png)
    report = client.get(f"/api/reports/{sid}").get_json()
    study = report["study"]
    image = data_dir / "images" / study["sha256"][:2] / f"{study['sha256']}.display.png"
    pdf = render_pdf(report, image, None, unicode_fonts=False)
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    text = b"".join(zlib.decompress(s) if s[:1] == b"x" else s for s in streams).decode("latin-1")
    literals = re.findall(r"\(((?:\\.|[^\\)])*)\)\s*Tj", text)
    shown = "".join(re.sub(r"\\(.)", r"\1", lit) for lit in literals)
    for expected in ("Zo", "MRN-77", study["sha256"], study["prediction"]["model_version"],
                     f"{study['prediction']['threshold']:.3f}", "supports and does not replace a clinician"):
        assert expected in shown, expected
    assert "Grad-CAM heatmap (model attention): not available" in shown
