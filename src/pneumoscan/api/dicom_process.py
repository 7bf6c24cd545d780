"""``pneumoscan serve``'s DICOM process: the C-STORE receiver and the result sender run beside the
gunicorn workers in one process of their own (one listener on the DICOM port, one sender draining
the queue), with their own copy of the model, started only when the settings ask for them.

Like ``server``, it sits above the application factory and the ``hospital`` package and wires them
together; the DICOM modules (pynetdicom) are imported only when the settings ask for them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from typing import Any

from pneumoscan.api.hospital.dicom_settings import DicomSettings

log = logging.getLogger(__name__)


def start_hospital_process(flask_config: dict[str, Any]) -> multiprocessing.process.BaseProcess | None:
    """Start the DICOM process when ``PNEUMOSCAN_DICOM_PORT`` or ``PNEUMOSCAN_DICOM_DESTINATION`` is set.

    Raises:
        SettingsError: a ``PNEUMOSCAN_DICOM_*`` value is unusable (checked here, before anything starts).
    """
    settings = DicomSettings.from_env()
    if settings.port is None and settings.destination is None:
        return None
    from pneumoscan.api.hospital.receiver import check_receiver_settings

    if settings.port is not None:
        check_receiver_settings(settings)  # fail before anything starts

    process = multiprocessing.get_context("spawn").Process(
        target=run_hospital_services, args=(flask_config,), name="pneumoscan-dicom", daemon=True
    )
    process.start()
    log.info("DICOM process started (pid %s): receiver %s, sender %s", process.pid,
             f"{settings.ae_title} on port {settings.port}" if settings.port else "off",
             settings.destination or "off")
    return process


def run_hospital_services(flask_config: dict[str, Any]) -> None:
    """The DICOM process of ``pneumoscan serve``: the receiver (when a port is set) and the sender
    (when a destination is set), on their own copy of the app, until terminated."""
    from pneumoscan.api.app import create_app
    from pneumoscan.api.hospital.receiver import DicomReceiver
    from pneumoscan.api.hospital.sender import SenderThread, hospital_settings

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(flask_config)
    settings = hospital_settings(app)
    receiver = DicomReceiver(app, settings).start() if settings.port is not None else None
    sender = SenderThread(app) if settings.destination is not None else None
    if sender is not None:
        sender.start()
        log.info("sending results to %s", settings.destination)
    parent = os.getppid()
    try:
        while os.getppid() == parent:  # the server that started us is gone: stop too
            time.sleep(1.0)
    finally:
        if receiver is not None:
            receiver.stop()
        if sender is not None:
            sender.stop()
