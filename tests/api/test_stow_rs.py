"""DICOMweb STOW-RS (``POST /dicomweb/studies``): instances in a multipart/related body become studies
through the upload path, answered with the PS3.18 DICOM JSON of what was stored and what failed."""

from __future__ import annotations

import io

from pydicom import dcmread

from dicom_files import dicom_bytes

from .auth_helpers import bearer_client

BOUNDARY = "pneumoscan-test-boundary"
REFERENCED, FAILED, INSTANCE_UID, FAILURE_REASON, RETRIEVE_URL = "00081199", "00081198", "00081155", "00081197", \
    "00081190"


def multipart(*parts: bytes, kind: str = "application/dicom") -> tuple[bytes, str]:
    body = b"".join(f"--{BOUNDARY}\r\nContent-Type: {kind}\r\n\r\n".encode() + p + b"\r\n" for p in parts)
    return body + f"--{BOUNDARY}--\r\n".encode(), f'multipart/related; type="{kind}"; boundary={BOUNDARY}'


def stow(client, *parts: bytes, kind: str = "application/dicom"):
    body, content_type = multipart(*parts, kind=kind)
    return client.post("/dicomweb/studies", data=body, content_type=content_type)


def uid(data: bytes) -> str:
    return str(dcmread(io.BytesIO(data)).SOPInstanceUID)


def test_stow_stores_each_instance_as_a_study_and_answers_dicom_json(client, app):
    a, b = dicom_bytes(patient_id="MRN-STOW-A", seed=1), dicom_bytes(patient_id="MRN-STOW-B", seed=2)
    r = stow(client, a, b)
    assert r.status_code == 200 and r.mimetype == "application/dicom+json"
    stored = r.get_json()[REFERENCED]["Value"]
    assert [item[INSTANCE_UID]["Value"][0] for item in stored] == [uid(a), uid(b)]
    urls = [item[RETRIEVE_URL]["Value"][0] for item in stored]
    assert all("/api/studies/" in u for u in urls)
    study = client.get(urls[0].split("localhost", 1)[-1]).get_json()
    assert study["source"] == "stow" and study["prediction"] is not None
    audit = bearer_client(app, "admin").get("/api/admin/audit?per_page=100").get_json()["items"]
    rows = [row for row in audit if row["action"] == "create" and row["detail"] == "stow-rs"]
    assert len(rows) == 2 and {row["username"] for row in rows} == {"test-clinician"}


def test_the_same_instance_stowed_twice_is_one_study(client):
    data = dicom_bytes(patient_id="MRN-STOW-DUP")
    assert stow(client, data).status_code == 200
    again = stow(client, data)
    assert again.status_code == 200 and again.get_json()[REFERENCED]["Value"][0][INSTANCE_UID]["Value"] == [uid(data)]
    assert client.get("/api/worklist").get_json()["total"] == 1


def test_a_bad_part_is_listed_as_failed_and_the_good_one_is_stored(client, app):
    good = dicom_bytes(patient_id="MRN-STOW-OK")
    mixed = stow(client, good, b"this is not DICOM")
    assert mixed.status_code == 202
    body = mixed.get_json()
    assert body[REFERENCED]["Value"][0][INSTANCE_UID]["Value"] == [uid(good)]
    assert body[FAILED]["Value"][0][FAILURE_REASON]["Value"] == [0xC000]
    no_pixels = dcmread(io.BytesIO(dicom_bytes(patient_id="MRN-STOW-EMPTY")))
    del no_pixels.PixelData
    buf = io.BytesIO()
    no_pixels.save_as(buf)
    only_bad = stow(client, buf.getvalue())
    assert only_bad.status_code == 409
    assert only_bad.get_json()[FAILED]["Value"][0][INSTANCE_UID]["Value"] == [str(no_pixels.SOPInstanceUID)]
    assert client.get("/api/worklist").get_json()["total"] == 1
    audit = bearer_client(app, "admin").get("/api/admin/audit?per_page=100").get_json()["items"]
    assert [(r["outcome"], r["status"]) for r in audit if r["action"] == "create" and r["detail"] != "stow-rs"] \
        == [("failure", 409)]  # the STOW that stored nothing has its own row


def test_stow_names_a_wrong_content_type_and_needs_a_clinician(client, anon_client):
    r = client.post("/dicomweb/studies", data=b"{}", content_type="application/json")
    assert r.status_code == 415 and "multipart/related" in r.get_json()["error"]["message"]
    r = stow(client, b"%PDF-1.4", kind="application/pdf")
    assert r.status_code == 415 and "application/dicom" in r.get_json()["error"]["message"]
    assert stow(anon_client, dicom_bytes()).status_code == 401
