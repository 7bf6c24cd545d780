"""The DICOM receiver: a C-STORE SCP (pynetdicom) that turns every received image into a study.

- Listens on ``PNEUMOSCAN_DICOM_PORT`` as AE ``PNEUMOSCAN_DICOM_AE_TITLE`` (``PNEUMOSCAN``).
- Accepts associations only from the calling AE titles in ``PNEUMOSCAN_DICOM_ALLOWED_AETS`` and only
  when called by its own AE title: any other caller is rejected at association (A-ASSOCIATE-RJ).
- Each instance takes the upload path (``inbound.receive_instance``): decoding, refusal checks with
  the DICOM age, prediction, storage (a refusal is stored too), the patient matched by PatientID,
  an audit row naming the caller.
- Answers: ``0x0000`` stored (a duplicate SOPInstanceUID too: it is already here), ``0xC000`` (cannot
  understand) with an ErrorComment for an object that is no usable image, ``0xA700`` (out of
  resources, the sender may retry) when storing failed. One bad object never stops the receiver.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from pydicom import Dataset
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    StoragePresentationContexts,
    VerificationPresentationContexts,
    evt,
)
from pynetdicom.transport import ThreadedAssociationServer

from pneumoscan.api.access import audit_row
from pneumoscan.api.hospital.dicom_settings import DicomSettings
from pneumoscan.api.hospital.inbound import receive_instance
from pneumoscan.api.settings import SettingsError

log = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_CANNOT_UNDERSTAND = 0xC000
STATUS_OUT_OF_RESOURCES = 0xA700


def _status(code: int, comment: str | None = None) -> Dataset:
    ds = Dataset()
    ds.Status = code
    if comment:
        ds.ErrorComment = comment[:64]
    return ds


def check_receiver_settings(settings: DicomSettings) -> None:
    """Raise ``SettingsError`` unless a port and the allowed callers are set (an open receiver would
    take images from anyone on the network)."""
    if settings.port is None:
        raise SettingsError("Set PNEUMOSCAN_DICOM_PORT (e.g. 11112) to run the DICOM receiver.")
    if not settings.allowed_aets:
        raise SettingsError(
            "PNEUMOSCAN_DICOM_ALLOWED_AETS is empty: name the PACS or modalities allowed to send "
            "(comma-separated calling AE titles, e.g. ORTHANC,CR_ROOM_1)."
        )


class DicomReceiver:
    """A C-STORE SCP feeding ``app``.

    Args:
        app: the PneumoScan application (its predictor, database and image store).
        settings: port, AE title and allowed callers.

    Raises:
        SettingsError: no port, or no allowed calling AE titles (an open receiver would take images
            from anyone on the network).
    """

    def __init__(self, app: Flask, settings: DicomSettings):
        check_receiver_settings(settings)
        self.app = app
        self.settings = settings
        self.server: ThreadedAssociationServer | None = None

    def _ae(self) -> AE:
        ae = AE(ae_title=self.settings.ae_title)
        ae.require_called_aet = True
        ae.require_calling_aet = list(self.settings.allowed_aets)
        ae.maximum_associations = 16
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
        for context in StoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        for context in VerificationPresentationContexts:
            ae.add_supported_context(context.abstract_syntax)
        return ae

    @property
    def port(self) -> int:
        """The port listened on (the real one when the settings said 0)."""
        assert self.server is not None, "start() first"
        return int(self.server.server_address[1])

    def start(self) -> DicomReceiver:
        """Listen in background threads (returns at once)."""
        self.server = self._ae().start_server(
            (self.settings.host, int(self.settings.port)), block=False,
            evt_handlers=[(evt.EVT_C_STORE, self.handle_store), (evt.EVT_REJECTED, _log_rejected)],
        )
        log.info("DICOM receiver %s listening on %s:%d; callers allowed: %s", self.settings.ae_title,
                 self.settings.host, self.port, ", ".join(self.settings.allowed_aets))
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def handle_store(self, event: Any) -> Dataset:
        """One C-STORE request -> a status dataset (never raises)."""
        calling = str(event.assoc.requestor.ae_title).strip()
        uid = str(event.request.AffectedSOPInstanceUID or "").strip() or None
        try:
            data = event.encoded_dataset()
        except Exception as exc:  # noqa: BLE001 - a malformed stream is the caller's problem, not ours
            log.warning("C-STORE from %s: cannot encode the instance (%s)", calling, exc)
            return _status(STATUS_CANNOT_UNDERSTAND, "Malformed DICOM data set")
        try:
            with self.app.app_context():
                got = receive_instance(
                    self.app, data, source="dicom", sop_instance_uid=uid,
                    audit=lambda study: audit_row(
                        "create", object_type="study", object_id=study.id, patient_id=study.patient_id,
                        username=f"dicom:{calling}"[:64], detail=f"c-store from {calling}",
                    ),
                )
        except Exception:  # noqa: BLE001 - keep serving; the sender may try again
            log.exception("C-STORE from %s: storing %s failed", calling, uid)
            return _status(STATUS_OUT_OF_RESOURCES, "PneumoScan could not store the instance")
        if not got.ok:
            return _status(STATUS_CANNOT_UNDERSTAND, f"{got.error_code}: not a usable chest X-ray image")
        stored = got.stored
        if stored.duplicate:
            log.info("C-STORE from %s: %s is already study %s (duplicate)", calling, uid, stored.study_id)
        return _status(STATUS_SUCCESS)


def _log_rejected(event: Any) -> None:
    log.warning("DICOM association from %s (AE %s) rejected", event.assoc.requestor.address,
                str(event.assoc.requestor.ae_title).strip())
