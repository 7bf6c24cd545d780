"""The C-STORE receiver on a real socket, fed by a real pynetdicom SCU: stored studies with their
prediction or their refusal, patients matched by MRN or created from the tags, callers rejected at
association, duplicates recognised, malformed objects refused while the receiver keeps serving."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE, StoragePresentationContexts

from dicom_files import dicom_bytes, sample_dicom
from pneumoscan.api import create_app
from pneumoscan.api.hospital.receiver import DicomReceiver
from pneumoscan.api.hospital.sender import hospital_settings
from pneumoscan.api.settings import SettingsError

from .auth_helpers import bearer_client


def dicom_app(run, data_dir: Path, tmp_path: Path, predictor=None, **extra):
    config = {"TESTING": True, "RUN_DIR": run, "DATA_DIR": data_dir, "WEB_DIR": tmp_path / "no-web",
              "DICOM_PORT": 0, "DICOM_HOST": "127.0.0.1", "DICOM_ALLOWED_AETS": ["MODALITY", "ORTHANC"], **extra}
    if predictor is not None:
        config["PREDICTOR"] = predictor
    return create_app(config)


@pytest.fixture()
def receiver_app(tiny_run, predictor, data_dir, tmp_path):
    app = dicom_app(tiny_run, data_dir, tmp_path, predictor)
    receiver = DicomReceiver(app, hospital_settings(app)).start()
    app.extensions["test_receiver"] = receiver
    yield app
    receiver.stop()


def c_store(port: int, *files: bytes, calling: str = "MODALITY", called: str = "PNEUMOSCAN") -> list:
    """C-STORE each file over one association; returns the status codes, or None when rejected."""
    ae = AE(ae_title=calling)
    for context in StoragePresentationContexts:
        ae.add_requested_context(context.abstract_syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return [None] if assoc.is_rejected else ["no association"]
    try:
        return [int(assoc.send_c_store(dcmread(io.BytesIO(f))).Status) for f in files]
    finally:
        assoc.release()


def port_of(app) -> int:
    return app.extensions["test_receiver"].port


def test_a_received_image_becomes_a_study_with_its_prediction_patient_and_audit(receiver_app):
    data = dicom_bytes(patient_id="MRN-CS-1", patient_name="Doe^Jane", birth_date="20220301", sex="F")
    assert c_store(port_of(receiver_app), data) == [0x0000]
    client = bearer_client(receiver_app, "admin")
    study = client.get("/api/worklist").get_json()["items"][0]
    assert study["source"] == "dicom" and study["format"] == "dicom" and study["prediction"] is not None
    assert study["refusal"] is None and study["urgency"] in ("above_threshold", "below_threshold")
    patient = client.get(f"/api/patients/{study['patient_id']}").get_json()
    assert (patient["mrn"], patient["name"], patient["sex"], patient["birth_date"]) == \
        ("MRN-CS-1", "Jane Doe", "female", "2022-03-01")
    audit = client.get("/api/admin/audit?per_page=100").get_json()["items"]
    row = next(r for r in audit if r["action"] == "create" and r["object_id"] == study["id"])
    assert row["username"] == "dicom:MODALITY" and row["patient_id"] == patient["id"]


def test_a_known_mrn_gets_the_study_attached_to_that_patient(receiver_app):
    client = bearer_client(receiver_app, "clinician")
    patient = client.post("/api/patients", json={"name": "Known Kid", "mrn": "MRN-KNOWN"}).get_json()
    assert c_store(port_of(receiver_app), dicom_bytes(patient_id="MRN-KNOWN", patient_name="Other^Name")) == [0]
    studies = client.get(f"/api/studies?patient_id={patient['id']}").get_json()["items"]
    assert len(studies) == 1 and client.get("/api/patients?q=Other").get_json()["total"] == 0


@pytest.mark.parametrize(("calling", "called"), [("STRANGER", "PNEUMOSCAN"), ("MODALITY", "SOMEONE_ELSE")])
def test_unknown_callers_are_rejected_at_association_and_nothing_is_stored(receiver_app, calling, called):
    assert c_store(port_of(receiver_app), dicom_bytes(), calling=calling, called=called) == [None]
    assert bearer_client(receiver_app).get("/api/worklist").get_json()["total"] == 0


def test_the_same_sop_instance_twice_is_one_study(receiver_app):
    data = dicom_bytes(patient_id="MRN-DUP")
    assert c_store(port_of(receiver_app), data, data) == [0, 0]
    assert c_store(port_of(receiver_app), data) == [0]
    items = bearer_client(receiver_app).get("/api/worklist").get_json()["items"]
    assert len(items) == 1


def test_a_malformed_object_gets_a_failure_status_and_the_receiver_keeps_serving(receiver_app):
    broken = dcmread(io.BytesIO(dicom_bytes(patient_id="MRN-BAD")))
    broken.PixelData = broken.PixelData[:100]  # cut off: Rows x Columns no longer fit
    buf = io.BytesIO()
    broken.save_as(buf)
    no_pixels = dcmread(io.BytesIO(dicom_bytes(patient_id="MRN-BAD")))
    del no_pixels.PixelData
    buf2 = io.BytesIO()
    no_pixels.save_as(buf2)
    statuses = c_store(port_of(receiver_app), buf.getvalue(), buf2.getvalue(), dicom_bytes(patient_id="MRN-OK"))
    assert statuses[0] == statuses[1] == 0xC000 and statuses[2] == 0
    items = bearer_client(receiver_app).get("/api/worklist").get_json()["items"]
    assert [it["dicom_tags"]["patient_id"] for it in items] == ["MRN-OK"]


def test_a_refused_image_is_stored_as_a_refusal_and_flagged_on_the_worklist(receiver_app):
    port = port_of(receiver_app)
    assert c_store(port, dicom_bytes(patient_id="MRN-LAT", view_position="LL"), dicom_bytes(patient_id="MRN-PA")) \
        == [0, 0]
    client = bearer_client(receiver_app)
    items = client.get("/api/worklist").get_json()["items"]
    refused = items[-1]  # answered studies first, refusals apart after them
    assert refused["urgency"] == "refused" and refused["prediction"] is None
    assert refused["refusal"]["reason"] == "lateral_view" and refused["dicom_tags"]["patient_id"] == "MRN-LAT"
    assert items[0]["urgency"] != "refused"
    assert client.get("/api/worklist?result=refused").get_json()["total"] == 1
    assert client.get(f"/api/studies/{refused['id']}/dicom/sr").status_code == 404


def test_the_age_rule_reads_the_dicom_age_of_a_received_image(receiver_app):
    """PatientAge wins; without it, the age from birth and study dates (the tiny run: ages 1-5)."""
    assert c_store(
        port_of(receiver_app),
        dicom_bytes(patient_id="MRN-40Y", patient_age="040Y", seed=5),
        dicom_bytes(patient_id="MRN-1980", patient_age=None, birth_date="19800101", seed=6),
        dicom_bytes(patient_id="MRN-3Y", patient_age=None, birth_date="20230101", seed=7),
    ) == [0, 0, 0]
    items = {it["dicom_tags"]["patient_id"]: it for it in bearer_client(receiver_app).get("/api/worklist")
             .get_json()["items"]}
    assert items["MRN-40Y"]["refusal"]["reason"] == "outside_intended_population"
    assert items["MRN-1980"]["refusal"]["reason"] == "outside_intended_population"
    assert items["MRN-3Y"]["refusal"] is None and items["MRN-3Y"]["prediction"] is not None


def test_the_receiver_will_not_start_open_to_every_caller(tiny_run, predictor, data_dir, tmp_path):
    app = dicom_app(tiny_run, data_dir, tmp_path, predictor, DICOM_ALLOWED_AETS=[])
    with pytest.raises(SettingsError, match="PNEUMOSCAN_DICOM_ALLOWED_AETS"):
        DicomReceiver(app, hospital_settings(app))


@pytest.mark.slow
def test_the_shipped_model_refuses_an_adult_over_dicom_and_answers_a_child(tmp_path):
    """The age rule on DICOM tags (PatientAge, or birth and study dates), with the shipped model."""
    run = Path(__file__).resolve().parents[2] / "runs" / "default"
    if not (run / "checkpoint.pt").is_file():
        pytest.skip(f"no trained run at {run}")
    app = dicom_app(run, tmp_path / "data", tmp_path)
    if app.extensions["predictor"].population is None:
        pytest.skip(f"the run at {run} states no intended population (no age rule to apply)")
    receiver = DicomReceiver(app, hospital_settings(app)).start()
    try:
        statuses = c_store(
            receiver.port,
            sample_dicom(patient_id="MRN-ADULT", patient_age="040Y"),
            sample_dicom("person1947_bacteria_4876.jpeg", patient_id="MRN-CHILD", patient_age="004Y"),
            sample_dicom("NORMAL2-IM-1437-0001.jpeg", patient_id="MRN-BORN", patient_age=None,
                         birth_date="19800101", study_date="20260501"),
        )
    finally:
        receiver.stop()
    assert statuses == [0, 0, 0]
    items = {it["dicom_tags"]["patient_id"]: it
             for it in bearer_client(app).get("/api/worklist").get_json()["items"]}
    assert items["MRN-ADULT"]["refusal"]["reason"] == "outside_intended_population"
    assert items["MRN-BORN"]["refusal"]["reason"] == "outside_intended_population"
    assert items["MRN-CHILD"]["refusal"] is None and items["MRN-CHILD"]["prediction"]["label"] == "PNEUMONIA"


def test_serve_starts_no_dicom_process_unless_asked_and_refuses_bad_settings_before_starting(monkeypatch):
    from pneumoscan.api.dicom_process import start_hospital_process

    for name in ("PNEUMOSCAN_DICOM_PORT", "PNEUMOSCAN_DICOM_DESTINATION", "PNEUMOSCAN_DICOM_ALLOWED_AETS"):
        monkeypatch.delenv(name, raising=False)
    assert start_hospital_process({}) is None
    monkeypatch.setenv("PNEUMOSCAN_DICOM_PORT", "11112")
    with pytest.raises(SettingsError, match="ALLOWED_AETS"):
        start_hospital_process({})
    monkeypatch.setenv("PNEUMOSCAN_DICOM_ALLOWED_AETS", "ORTHANC")
    monkeypatch.setenv("PNEUMOSCAN_DICOM_DESTINATION", "orthanc:4242")
    with pytest.raises(SettingsError, match="AE_TITLE@host:port"):
        start_hospital_process({})
