"""``DicomSend``: one result object (SR, heatmap, PDF) queued for the configured DICOM destination.

A row is ``pending`` until the destination accepted the object (``sent``); each failed try counts
in ``attempts``, keeps its error and moves ``next_attempt_at`` later, so a destination that is down
loses nothing and the worklist shows the study's results as pending.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pneumoscan.api.storage import Base, utcnow

SEND_KINDS = ("sr", "heatmap", "pdf")


class DicomSend(Base):
    __tablename__ = "dicom_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # sr | heatmap | pdf
    destination: Mapped[str] = mapped_column(String(255))  # AE@host:port
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
