"""Sending each study's results (SR, heatmap, PDF) to the configured DICOM destination, with retries.

``enqueue_results`` adds one ``pending`` row per object in the transaction that stores the study, so
a result is never forgotten: the rows are the queue. ``send_due`` (run every few seconds by
``SenderThread`` in the process that runs the receiver) opens one association to the destination,
C-STOREs each due object and marks it ``sent``. A failure (destination down, association rejected,
a failure status) keeps the row pending, counts the attempt, keeps the error and waits longer
before the next try: ``PNEUMOSCAN_DICOM_RETRY_SECONDS`` doubled after each failure, at most an hour.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app
from pynetdicom import AE
from sqlalchemy import select
from sqlalchemy.orm import Session

from pneumoscan.api.hospital.dicom_out import KINDS
from pneumoscan.api.hospital.dicom_settings import Destination, DicomSettings
from pneumoscan.api.orm import SEND_KINDS, DicomSend, Study, as_utc, utcnow

if TYPE_CHECKING:
    from pneumoscan.api.services import Services

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
SETTINGS_KEY = "pneumoscan.hospital"


def hospital_settings(app: Flask | None = None) -> DicomSettings:
    """The application's DICOM settings (read once per application)."""
    app = app or current_app
    settings = app.extensions.get(SETTINGS_KEY)
    if settings is None:
        settings = app.extensions[SETTINGS_KEY] = DicomSettings.for_app(app.config)
    return settings


def enqueue_results(session: Session, study: Study) -> list[DicomSend]:
    """Queue the study's SR, heatmap and PDF for the destination (nothing when none is configured)."""
    dest = hospital_settings().destination
    pred = study.prediction
    if dest is None or pred is None:
        return []
    rows = [DicomSend(study_id=study.id, kind=kind, destination=str(dest), status="pending", attempts=0,
                      next_attempt_at=utcnow())
            for kind in SEND_KINDS if kind != "heatmap" or pred.heatmap_path]
    session.add_all(rows)
    return rows


def send_status(rows: Sequence[DicomSend]) -> dict | None:
    """A study's send state for the worklist: ``sent`` when every object went, else ``pending``."""
    if not rows:
        return None
    pending = [r for r in rows if r.status != "sent"]
    errors = [r.last_error for r in pending if r.last_error]
    return {
        "status": "pending" if pending else "sent",
        "destination": rows[0].destination,
        "objects": {r.kind: r.status for r in rows},
        "attempts": max(r.attempts for r in rows),
        "last_error": errors[-1] if errors else None,
    }


@dataclass
class SendSummary:
    sent: int = 0
    failed: int = 0


def _backoff(settings: DicomSettings, attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(MAX_BACKOFF_SECONDS, settings.retry_seconds * 2 ** max(0, attempts - 1)))


def send_due(svc: Services, settings: DicomSettings, now: dt.datetime | None = None, limit: int = 30) -> SendSummary:
    """Send the objects whose next try is due (in an application context).

    Returns:
        How many were sent and how many failed this round.
    """
    from pneumoscan.api.hospital.results import result_object

    now = now or utcnow()
    with svc.db.session() as session:
        soonest = session.scalars(  # earliest next try first, so the due ones are never crowded out
            select(DicomSend).where(DicomSend.status == "pending")
            .order_by(DicomSend.next_attempt_at, DicomSend.id).limit(limit)
        ).all()
        due = [r for r in soonest if as_utc(r.next_attempt_at) <= now]
        jobs = [(r.id, r.study_id, r.kind, r.destination) for r in due]
    summary = SendSummary()
    if not jobs:
        return summary
    outcomes: dict[int, tuple[bool, str | None, str | None]] = {}
    by_dest: dict[str, list[tuple[int, int, str]]] = {}
    for job_id, study_id, kind, dest in jobs:
        by_dest.setdefault(dest, []).append((job_id, study_id, kind))
    for dest_text, items in by_dest.items():
        dest = Destination.parse(dest_text)
        datasets = {}
        for job_id, study_id, kind in items:
            try:
                datasets[job_id] = result_object(svc, study_id, kind)
            except Exception as exc:  # noqa: BLE001 - one bad object must not stop the others
                log.exception("cannot build %s of study %s", kind, study_id)
                outcomes[job_id] = (False, f"cannot build the object: {exc}", None)
        outcomes.update(_c_store(settings.ae_title, dest, datasets))
    with svc.db.session() as session:
        for job_id, (ok, error, uid) in outcomes.items():
            row = session.get(DicomSend, job_id)
            row.attempts += 1
            if ok:
                row.status, row.sent_at, row.sop_instance_uid, row.last_error = "sent", utcnow(), uid, None
                summary.sent += 1
            else:
                row.last_error = (error or "unknown error")[:255]
                row.next_attempt_at = now + _backoff(settings, row.attempts)
                summary.failed += 1
    if summary.sent or summary.failed:
        log.info("DICOM send round: %d sent, %d failed (will retry)", summary.sent, summary.failed)
    return summary


def _c_store(calling_ae: str, dest: Destination, datasets: dict) -> dict[int, tuple[bool, str | None, str | None]]:
    """C-STORE each dataset over one association: job id -> (accepted, error, SOPInstanceUID)."""
    if not datasets:
        return {}
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    for sop_class in sorted(set(KINDS.values())):
        ae.add_requested_context(sop_class)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        why = "rejected the association" if assoc.is_rejected else "is unreachable (no association)"
        return {job_id: (False, f"{dest} {why}", None) for job_id in datasets}
    out: dict[int, tuple[bool, str | None, str | None]] = {}
    try:
        for job_id, ds in datasets.items():
            try:
                status = assoc.send_c_store(ds)
            except Exception as exc:  # noqa: BLE001 - a broken connection fails this object, not the loop
                out[job_id] = (False, f"C-STORE to {dest} failed: {exc}", None)
                continue
            code = getattr(status, "Status", None)
            if code is not None and (code == 0 or code in (0xB000, 0xB007, 0xB006)):
                out[job_id] = (True, None, str(ds.SOPInstanceUID))
            else:
                out[job_id] = (False, f"{dest} answered C-STORE status "
                               f"{'none' if code is None else hex(code)}", None)
    finally:
        assoc.release()
    return out


class SenderThread(threading.Thread):
    """Runs ``send_due`` every ``interval`` seconds until ``stop()``."""

    def __init__(self, app: Flask, interval: float | None = None):
        super().__init__(name="pneumoscan-dicom-sender", daemon=True)
        self.app = app
        self.interval = interval if interval is not None else hospital_settings(app).send_interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        settings = hospital_settings(self.app)
        svc = self.app.extensions["pneumoscan"]
        while not self._stop_event.is_set():
            try:
                with self.app.app_context():
                    send_due(svc, settings)
            except Exception:  # noqa: BLE001 - keep sending later
                log.exception("DICOM send round failed")
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
