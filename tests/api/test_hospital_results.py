"""Results as DICOM (TID 1500 SR, heatmap Secondary Capture, Encapsulated PDF) and as a FHIR R4 Bundle,
downloaded from a real app over the tiny run, read back with highdicom / pydicom / fhir.resources and
checked with dciodvfy (dicom3tools) when it is installed."""

from __future__ import annotations

import base64
import io

import highdicom as hd
import pytest
from pydicom import dcmread

from dicom_files import dciodvfy_errors, dicom_bytes, sr_values

from .api_helpers import png_bytes, upload, xray


@pytest.fixture()
def dicom_study(client) -> tuple[int, dict, bytes]:
    """A DICOM X-ray uploaded for a new patient: (study id, study JSON, the file)."""
    patient = client.post("/api/patients", json={"name": "Jane Doe", "mrn": "MRN-R-1", "sex": "female"}).get_json()
    data = dicom_bytes(patient_id="MRN-R-1")
    r = client.post("/api/studies", data=upload(data, "xray.dcm", patient_id=str(patient["id"])))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"], r.get_json(), data


def test_the_sr_is_tid_1500_with_the_finding_probability_model_and_source_image(client, dicom_study, tmp_path):
    study_id, study, source = dicom_study
    r = client.get(f"/api/studies/{study_id}/dicom/sr")
    assert r.status_code == 200 and r.mimetype == "application/dicom"
    sr = hd.sr.Comprehensive3DSR.from_dataset(dcmread(io.BytesIO(r.data)))
    src = dcmread(io.BytesIO(source))
    pred = study["prediction"]

    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.VerificationFlag == "UNVERIFIED"
    assert sr.StudyInstanceUID == src.StudyInstanceUID and sr.PatientID == "MRN-R-1"
    values = sr_values(sr)
    assert values["Pneumonia"] == ("Present" if pred["label"] == "PNEUMONIA" else "Absent")
    assert values["Probability of pneumonia (model output)"] == pytest.approx(pred["probability"], abs=1e-6)
    assert values["Decision threshold of the model"] == pytest.approx(pred["threshold"], abs=1e-6)
    assert pred["model_version"] in values["Algorithm Version"]
    assert any(p.startswith("operating point: ") for p in values["Algorithm Parameters"])
    equipment = sr.ContributingEquipmentSequence[0]
    assert equipment.Manufacturer == "PneumoScan" and equipment.SoftwareVersions == pred["model_version"]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert dciodvfy_errors(r.data, tmp_path) == []
    # the same result downloaded twice is the same instance (a PACS stores it once)
    again = dcmread(io.BytesIO(client.get(f"/api/studies/{study_id}/dicom/sr").data))
    assert again.SOPInstanceUID == sr.SOPInstanceUID


def test_the_heatmap_is_an_rgb_secondary_capture_in_the_xrays_study(client, dicom_study, tmp_path):
    study_id, _, source = dicom_study
    r = client.get(f"/api/studies/{study_id}/dicom/heatmap")
    assert r.status_code == 200
    sc = dcmread(io.BytesIO(r.data))
    overlay = client.get(f"/api/studies/{study_id}/heatmap")
    from PIL import Image

    png = Image.open(io.BytesIO(overlay.data)).convert("RGB")
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert sc.PhotometricInterpretation == "RGB" and (sc.Columns, sc.Rows) == png.size
    assert (sc.pixel_array == __import__("numpy").asarray(png)).all()
    assert sc.StudyInstanceUID == dcmread(io.BytesIO(source)).StudyInstanceUID
    assert dciodvfy_errors(r.data, tmp_path) == []


def test_the_pdf_is_encapsulated_byte_for_byte_from_the_report(client, dicom_study, tmp_path):
    study_id, _, _ = dicom_study
    r = client.get(f"/api/studies/{study_id}/dicom/pdf")
    assert r.status_code == 200
    doc = dcmread(io.BytesIO(r.data))
    assert doc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert doc.MIMETypeOfEncapsulatedDocument == "application/pdf"
    pdf = bytes(doc.EncapsulatedDocument)[: int(doc.EncapsulatedDocumentLength)]
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert dciodvfy_errors(r.data, tmp_path) == []


def test_a_png_upload_gets_a_dicom_study_of_its_own_from_the_patient_record(client, tmp_path):
    patient = client.post("/api/patients", json={"name": "Ada Lovelace", "mrn": "MRN-PNG", "sex": "female",
                                                 "birth_date": "2022-02-01"}).get_json()
    study = client.post("/api/studies", data=upload(png_bytes(xray(4, True)), "x.png",
                                                    patient_id=str(patient["id"]))).get_json()
    sr_data = client.get(f"/api/studies/{study['id']}/dicom/sr").data
    sc_data = client.get(f"/api/studies/{study['id']}/dicom/heatmap").data
    sr, sc = dcmread(io.BytesIO(sr_data)), dcmread(io.BytesIO(sc_data))
    assert sr.PatientID == sc.PatientID == "MRN-PNG" and str(sr.PatientName) == "Lovelace^Ada"
    assert sr.PatientBirthDate == "20220201" and sr.StudyInstanceUID == sc.StudyInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == sc.SOPInstanceUID  # the only DICOM image of a PNG upload
    assert dciodvfy_errors(sr_data, tmp_path) == []


def test_the_fhir_bundle_validates_and_carries_report_observation_device_and_patient(client, dicom_study):
    from fhir.resources.R4B.bundle import Bundle

    study_id, study, _ = dicom_study
    r = client.get(f"/api/studies/{study_id}/fhir")
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate(r.get_json())  # fhir.resources validates every resource
    resources = {e.resource.get_resource_type(): e for e in bundle.entry}
    assert set(resources) == {"DiagnosticReport", "Observation", "Device", "Patient"}
    report, obs = resources["DiagnosticReport"].resource, resources["Observation"].resource
    assert report.status == "preliminary"
    assert report.result[0].reference == resources["Observation"].fullUrl
    assert report.subject.reference == obs.subject.reference == resources["Patient"].fullUrl
    assert resources["Patient"].resource.identifier[0].value == "MRN-R-1"
    form = next(e for e in r.get_json()["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    pdf = base64.b64decode(form["resource"]["presentedForm"][0]["data"])
    assert report.presentedForm[0].contentType == "application/pdf" and pdf.startswith(b"%PDF-")
    assert obs.code.coding[0].system == "http://snomed.info/sct" and obs.code.coding[0].code == "233604007"
    pneumonia = study["prediction"]["label"] == "PNEUMONIA"
    assert obs.valueCodeableConcept.coding[0].code == ("52101004" if pneumonia else "2667000")
    assert float(obs.component[0].valueQuantity.value) == pytest.approx(study["prediction"]["probability"], abs=1e-6)
    assert obs.device.reference == resources["Device"].fullUrl
    assert resources["Device"].resource.version[0].value == study["prediction"]["model_version"]


def test_results_of_unknown_or_refused_studies_are_a_clear_404(client, app):
    for url in ("/api/studies/999999/dicom/sr", "/api/studies/999999/fhir"):
        r = client.get(url)
        assert r.status_code == 404 and "does not exist" in r.get_json()["error"]["message"]
    assert client.get("/api/studies/1/dicom/xml").status_code == 404


def test_downloads_are_audited_and_need_a_clinician(client, anon_client, dicom_study, admin_client):
    study_id, _, _ = dicom_study
    assert anon_client.get(f"/api/studies/{study_id}/dicom/sr").status_code == 401
    client.get(f"/api/studies/{study_id}/dicom/pdf")
    client.get(f"/api/studies/{study_id}/fhir")
    rows = admin_client.get("/api/admin/audit?per_page=100").get_json()["items"]
    details = {(row["action"], row["detail"]) for row in rows if row["object_id"] == study_id}
    assert {("download", "dicom-pdf"), ("download", "fhir")} <= details
