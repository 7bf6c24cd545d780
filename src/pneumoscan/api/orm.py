"""The ORM models of the API, all on one ``Base``: the clinical records (``Patient``, ``Study``, its
``PredictionRecord`` and ``Report``), the accounts (``User``, ``AuthSession``, ``ApiToken``,
``LoginAttempt``), the audit trail (``AuditEntry``, ``AuditRollup``) and the DICOM send queue
(``DicomSend``).

One module, so that Alembic and every process see every table, and the modules with the logic
(``storage``, ``accounts``, ``audit``, ``hospital``) import the models from here and never from each
other. The schema itself is created and upgraded by Alembic (``pneumoscan/api/migrations``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (what every timestamp column stores)."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


# --- clinical records -------------------------------------------------------------------------


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    mrn: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    sex: Mapped[str] = mapped_column(String(16), default="unknown")
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    age_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    referring_doctor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    studies: Mapped[list[Study]] = relationship(back_populates="patient", order_by="Study.id")


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), nullable=True, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bit_depth: Mapped[int] = mapped_column(Integer, default=8)
    size_bytes: Mapped[int] = mapped_column(Integer)
    image_path: Mapped[str] = mapped_column(String(255))  # original bytes, relative to the data folder
    display_path: Mapped[str] = mapped_column(String(255))  # decoded 8-bit PNG, relative
    dicom_tags: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # DICOM intake (migration 0005): how it arrived, its SOPInstanceUID (duplicates), a stored refusal
    # (an image received over DICOM that the model refused), and who read it on the worklist.
    source: Mapped[str] = mapped_column(String(16), default="upload", server_default="upload")
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True, index=True)
    refusal_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refusal_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    read_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    patient: Mapped[Patient | None] = relationship(back_populates="studies")
    predictions: Mapped[list[PredictionRecord]] = relationship(
        back_populates="study", order_by="PredictionRecord.id", cascade="all, delete-orphan"
    )
    reports: Mapped[list[Report]] = relationship(back_populates="study", order_by="Report.id")

    @property
    def prediction(self) -> PredictionRecord | None:
        """The latest prediction (a study is predicted once per model that served it)."""
        return self.predictions[-1] if self.predictions else None


class PredictionRecord(Base):
    """The model's answer for one study, as stored (``serving.predictor.Prediction`` is the live one)."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    model_id: Mapped[str] = mapped_column(String(80))  # SHA-256 of checkpoint.pt (first 16 hex digits)
    model_version: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    ood_distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    heatmap_path: Mapped[str | None] = mapped_column(String(255), nullable=True)  # relative
    heatmap_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subtype: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # serving Prediction.subtype (pneumonia answers)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    study: Mapped[Study] = relationship(back_populates="predictions")


class Report(Base):
    """The issued report of one prediction: at most one per (study, prediction), which the database
    enforces, so concurrent first requests agree on one row."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("study_id", "prediction_id", name="uq_reports_study_prediction"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), index=True)
    generated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notice: Mapped[str] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="reports")
    prediction: Mapped[PredictionRecord] = relationship()


# --- accounts and audit -----------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthSession(Base):
    """A signed-in browser: the cookie holds the id, the table holds its SHA-256 and the CSRF token."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiToken(Base):
    """A personal API token for scripts (``Authorization: Bearer psk_...``); shown once, stored hashed."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginAttempt(Base):
    """Every sign-in attempt (for the per-address throttle); never holds a password."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """One row per action on patient data or accounts; rows are only ever added (the database refuses
    UPDATE and DELETE on this table)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AuditRollup(Base):
    """Refused or failed requests of callers without credentials, counted per source and minute.

    Only ``count``, ``last_at`` and ``last_request_id`` ever change (the database refuses anything else).
    """

    __tablename__ = "audit_rollups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True, index=True)
    minute: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


# --- DICOM send queue -------------------------------------------------------------------------


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
