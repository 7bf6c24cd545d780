"""Sending each study's SR, heatmap and PDF to the configured DICOM destination: a real pynetdicom
storage SCP as the PACS; when it is down nothing is lost, the study shows pending, and the objects go
out on a later try."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from pynetdicom import AE, AllStoragePresentationContexts, evt

from dicom_files import dicom_bytes
from pneumoscan.api import create_app
from pneumoscan.api.hospital.sender import hospital_settings, send_due
from pneumoscan.api.orm import DicomSend, utcnow

from .api_helpers import upload
from .auth_helpers import bearer_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pacs:
    """A storage SCP that keeps what it receives (a stand-in PACS for these tests)."""

    def __init__(self, port: int):
        self.port = port
        self.received: list = []
        self.server = None

    def start(self) -> Pacs:
        ae = AE(ae_title="TESTPACS")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax)

        def on_store(event):
            ds = event.dataset
            ds.file_meta = event.file_meta
            self.received.append(ds)
            return 0x0000

        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@pytest.fixture()
def pacs_port() -> int:
    return free_port()


@pytest.fixture()
def sending_app(tiny_run, predictor, data_dir, tmp_path, pacs_port):
    return create_app({"TESTING": True, "RUN_DIR": tiny_run, "PREDICTOR": predictor, "DATA_DIR": data_dir,
                       "WEB_DIR": tmp_path / "no-web", "DICOM_DESTINATION": f"TESTPACS@127.0.0.1:{pacs_port}",
                       "DICOM_RETRY_SECONDS": 60})


def _send(app, now=None):
    with app.app_context():
        return send_due(app.extensions["pneumoscan"], hospital_settings(app), now=now)


def test_results_wait_while_the_destination_is_down_and_go_out_later(sending_app, pacs_port):
    client = bearer_client(sending_app)
    study = client.post("/api/studies", data=upload(dicom_bytes(patient_id="MRN-SEND"), "x.dcm")).get_json()

    first = _send(sending_app)  # nobody listens on the port
    assert (first.sent, first.failed) == (0, 3)
    item = client.get("/api/worklist").get_json()["items"][0]
    assert item["dicom_send"]["status"] == "pending" and item["dicom_send"]["attempts"] == 1
    assert "unreachable" in item["dicom_send"]["last_error"]
    assert item["dicom_send"]["objects"] == {"sr": "pending", "heatmap": "pending", "pdf": "pending"}
    assert _send(sending_app).failed == 0  # not due again yet: it waits RETRY_SECONDS

    pacs = Pacs(pacs_port).start()
    try:
        later = _send(sending_app, now=utcnow() + dt.timedelta(seconds=61))
    finally:
        pacs.stop()
    assert (later.sent, later.failed) == (3, 0)
    item = client.get("/api/worklist").get_json()["items"][0]
    assert item["dicom_send"]["status"] == "sent" and item["dicom_send"]["last_error"] is None
    kinds = sorted(str(ds.SOPClassUID.name) for ds in pacs.received)
    assert kinds == ["Comprehensive 3D SR Storage", "Encapsulated PDF Storage", "Secondary Capture Image Storage"]
    assert {ds.PatientID for ds in pacs.received} == {"MRN-SEND"}
    with sending_app.extensions["pneumoscan"].db.session() as session:
        rows = session.query(DicomSend).filter_by(study_id=study["id"]).all()
        assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {2}
    assert _send(sending_app, now=utcnow() + dt.timedelta(hours=2)).sent == 0  # sent once only


def test_the_wait_doubles_after_each_failure(sending_app):
    client = bearer_client(sending_app)
    client.post("/api/studies", data=upload(dicom_bytes(patient_id="MRN-BACKOFF"), "x.dcm"))
    now = utcnow()
    _send(sending_app, now=now)
    _send(sending_app, now=now + dt.timedelta(seconds=61))
    with sending_app.extensions["pneumoscan"].db.session() as session:
        row = session.query(DicomSend).first()
        wait = row.next_attempt_at.replace(tzinfo=dt.UTC) - (now + dt.timedelta(seconds=61))
    assert row.attempts == 2 and wait == dt.timedelta(seconds=120)


def test_nothing_is_queued_without_a_destination(client, app):
    client.post("/api/studies", data=upload(dicom_bytes(patient_id="MRN-NODEST"), "x.dcm"))
    assert client.get("/api/worklist").get_json()["items"][0]["dicom_send"] is None
    with app.extensions["pneumoscan"].db.session() as session:
        assert session.query(DicomSend).count() == 0
