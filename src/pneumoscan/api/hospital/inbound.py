"""One DICOM instance received (C-STORE or STOW-RS) -> a stored study, through ``store_study``.

The same path as an upload: decode (with the server's size limit), the refusal checks with the age
from the DICOM tags (PatientAge, or birth and study dates), prediction, storage, audit. What differs:
the patient is matched by PatientID (MRN) or created from the tags; a refusal is stored (nobody is
waiting for the answer); the same SOPInstanceUID twice is a duplicate, not a second study; and the
audit row names the sending AE title (or the STOW-RS caller).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask

from pneumoscan.api.intake import StoredStudy, store_study
from pneumoscan.data.decoding import ImageDecodeError, decode_image

if TYPE_CHECKING:
    from pneumoscan.api.orm import AuditEntry, Study

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """The outcome for one instance: stored (maybe as a refusal), a duplicate, or unusable."""

    stored: StoredStudy | None
    error_code: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.stored is not None


def receive_instance(
    app: Flask,
    data: bytes,
    *,
    source: str,
    sop_instance_uid: str | None,
    audit: Callable[[Study], AuditEntry],
) -> Received:
    """Store one received DICOM Part 10 file (call inside an application context).

    Args:
        app: the PneumoScan application.
        data: the instance as a DICOM file (preamble, file meta, dataset).
        source: ``dicom`` (C-STORE) or ``stow`` (STOW-RS).
        sop_instance_uid: its SOPInstanceUID, for recognising duplicates.
        audit: builds the audit row of the new study.

    Returns:
        ``Received``: ``error_code`` is the decoding error's code when the file is no usable image.
    """
    svc = app.extensions["pneumoscan"]
    try:
        decoded = decode_image(data, max_pixels=int(app.config["MAX_IMAGE_PIXELS"]))
    except ImageDecodeError as exc:
        log.warning("received %s instance %s is unusable: %s", source, sop_instance_uid, exc.code)
        return Received(None, exc.code, exc.message)
    if decoded.format != "dicom":
        return Received(None, "not_dicom", "The instance is not a DICOM file.")
    stored = store_study(svc, data, hashlib.sha256(data).hexdigest(), decoded, filename=None, source=source,
                         sop_instance_uid=sop_instance_uid, keep_refusal=True, audit=audit)
    return Received(stored)
