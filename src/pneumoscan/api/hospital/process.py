"""``pneumoscan serve``'s DICOM process: the C-STORE receiver and the result sender run beside the
gunicorn workers in one process of their own (one listener on the DICOM port, one sender draining
the queue), with their own copy of the model, started only when the settings ask for them."""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

from pneumoscan.api.hospital.settings import DicomSettings

log = logging.getLogger(__name__)


def start_hospital_process(flask_config: dict[str, Any]) -> multiprocessing.process.BaseProcess | None:
    """Start the DICOM process when ``PNEUMOSCAN_DICOM_PORT`` or ``PNEUMOSCAN_DICOM_DESTINATION`` is set.

    Raises:
        SettingsError: a ``PNEUMOSCAN_DICOM_*`` value is unusable (checked here, before anything starts).
    """
    settings = DicomSettings.from_env()
    if settings.port is None and settings.destination is None:
        return None
    from pneumoscan.api.hospital.receiver import check_receiver_settings, run_hospital_services

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
