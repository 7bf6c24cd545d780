"""Reports: JSON with patient, study, model and the notice; the PDF with both images, and names in any
script printed and read back (pypdf)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

import pytest
from pypdf import PdfReader

from pneumoscan.api.report_documents import FONT_ROOT, NOTICE, render_pdf

from .api_helpers import upload

# inside the model's intended population (1-5 years) whatever the date the tests run on
THREE_YEARS_AGO = (dt.date.today() - dt.timedelta(days=3 * 365)).isoformat()


def _study_with_patient(client, xray_png) -> int:
    patient = {"name": "Zoë Ångström", "mrn": "MRN-77", "sex": "female", "birth_date": THREE_YEARS_AGO,
               "referring_doctor": "Dr. Ng"}
    pid = client.post("/api/patients", json=patient).get_json()["id"]
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


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_text_holds_the_result_the_ids_and_the_notice(client, xray_png):
    sid = _study_with_patient(client, xray_png)
    study = client.get(f"/api/reports/{sid}").get_json()["study"]
    shown = " ".join(_pdf_text(client.get(f"/api/reports/{sid}.pdf").data).split())
    for expected in ("Zoë Ångström", "MRN-77", study["sha256"], study["prediction"]["model_version"],
                     f"{study['prediction']['threshold']:.3f}", "supports and does not replace a clinician"):
        assert expected in shown, expected


NAMES = {
    "latin": "Zoë Ångström-Øster",
    "cyrillic": "Дмитрий Шостакович",
    "cjk": "王小明 山田太郎 김민준",
    "arabic": "محمد عبد الله",
    "devanagari": "अनुराग शर्मा",
    "emoji": "Joy 😀🎉",
}


@pytest.mark.skipif(not (FONT_ROOT / "opentype/noto/NotoSansCJK-Regular.ttc").is_file(),
                    reason="the Noto fonts are not installed (apt-get install fonts-noto-core fonts-noto-cjk "
                           "fonts-noto-color-emoji)")
@pytest.mark.parametrize("script", list(NAMES))
def test_names_in_every_script_print_and_read_back(client, xray_png, data_dir, script, caplog):
    sid = _study_with_patient(client, xray_png)
    report = client.get(f"/api/reports/{sid}").get_json()
    report["patient"]["name"] = NAMES[script]
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf(report, None, None)
    name_line = next(line for line in _pdf_text(pdf).splitlines() if line.startswith("Name"))
    printed = name_line.removeprefix("Name").replace("\x00", " ").strip()  # pypdf spaces CJK glyphs apart
    if script == "arabic":  # drawn right to left: read back in visual order, the words reversed
        assert printed.split() == NAMES[script].split()[::-1]
    else:
        assert "".join(printed.split()) == "".join(NAMES[script].split())
    assert "missing" not in caplog.text and "no installed font" not in caplog.text


def test_without_unicode_fonts_the_pdf_falls_back_to_latin_1_and_says_so(client, xray_png, tmp_path, caplog):
    sid = _study_with_patient(client, xray_png)
    report = client.get(f"/api/reports/{sid}").get_json()
    report["patient"]["name"] = "王小明"
    with caplog.at_level(logging.WARNING, logger="pneumoscan.api.report_documents"):
        pdf = render_pdf(report, None, None, font_root=tmp_path / "no-fonts")
    text = _pdf_text(pdf)
    assert "Name ???" in text and "MRN-77" in text and "supports and does not replace" in " ".join(text.split())
    assert "fonts-noto-core" in caplog.text
