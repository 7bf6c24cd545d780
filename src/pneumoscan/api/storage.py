"""Storage: SQLAlchemy models (Patient, Study, Prediction, Report), the database and the image store.

SQLite by default (a file in the data folder, WAL mode so several gunicorn workers can share it);
PostgreSQL through ``DATABASE_URL``. The schema is created and upgraded by Alembic
(``pneumoscan/api/migrations``), never by ``create_all``, so a deployed database can be migrated.

Images are stored on disk under their SHA-256 (``images/ab/abcdef....<ext>``), written to a
temporary file and renamed into place, so a reader never sees half a file; a failed upload
removes what it wrote (``ImageStore.transaction``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


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
    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="study", order_by="Prediction.id", cascade="all, delete-orphan"
    )
    reports: Mapped[list[Report]] = relationship(back_populates="study", order_by="Report.id")

    @property
    def prediction(self) -> Prediction | None:
        """The latest prediction (a study is predicted once per model that served it)."""
        return self.predictions[-1] if self.predictions else None


class Prediction(Base):
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
    subtype: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Prediction.subtype (pneumonia answers)
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
    prediction: Mapped[Prediction] = relationship()


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    return value.isoformat()


class Database:
    """An engine plus a session factory for one database URL.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////abs/path/pneumoscan.db``.
        busy_timeout: seconds a request's write waits for another writer's lock.
        quick_timeout: seconds a best-effort write waits (``quick_session``: bookkeeping such as a
            token's ``last_used_at`` and audit rows of failed requests), so that it never holds up
            or fails a request.
    """

    def __init__(self, url: str, busy_timeout: float = 30.0, quick_timeout: float = 2.0):
        self.url = url
        self.engine: Engine = self._engine(url, busy_timeout)
        self.quick_engine: Engine = self._engine(url, quick_timeout, pool_size=2)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._quick_sessions = sessionmaker(self.quick_engine, expire_on_commit=False)

    @staticmethod
    def _engine(url: str, wait: float, pool_size: int | None = None) -> Engine:
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": wait}
        else:
            kwargs["pool_pre_ping"] = True
            if pool_size is not None:
                kwargs.update(pool_size=pool_size, max_overflow=4)
            if url.startswith("postgresql"):
                kwargs["connect_args"] = {"options": f"-c lock_timeout={int(wait * 1000)}"}
        engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", lambda conn, rec: _sqlite_pragmas(conn, rec, wait))
        return engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        with _committing(self._sessions()) as session:
            yield session

    @contextlib.contextmanager
    def quick_session(self) -> Iterator[Session]:
        """Like ``session``, but a write gives up after ``quick_timeout`` seconds of waiting for a lock."""
        with _committing(self._quick_sessions()) as session:
            yield session

    def upgrade(self, lock_dir: Path | None = None) -> None:
        """Bring the schema to the newest Alembic revision (idempotent).

        Args:
            lock_dir: a folder for a lock file, so that several processes starting at once
                (gunicorn workers) migrate one after the other.
        """
        with _file_lock(lock_dir / ".migrate.lock" if lock_dir else None):
            upgrade_database(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.quick_engine.dispose()


@contextlib.contextmanager
def _committing(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None):
    """An Alembic ``Config`` pointing at the packaged migrations (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine``."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade_database(engine: Engine, revision: str = "base") -> None:
    """Run the Alembic migrations down to ``revision`` (tests and rollbacks)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def _sqlite_pragmas(dbapi_connection, _record, wait: float = 30.0) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    cursor.close()


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_STORED_FOLDERS = ("images", "heatmaps")
"""Folders of the data folder that hold only files named by database rows."""


class ImageStore:
    """Files under the data folder, addressed by relative paths stored in the database.

    Args:
        root: the data folder.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, relative: str) -> Path:
        """The absolute path of a stored file.

        Raises:
            ValueError: the relative path leaves the data folder.
        """
        full = (self.root / relative).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError(f"Stored path {relative!r} is outside the data folder.")
        return full

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across processes: held from an upload's first file to its commit, and by the sweep."""
        with _file_lock(self.root / ".store.lock"):
            yield

    def sweep(self, db: Database) -> list[Path]:
        """Remove files that no database row names: what a crash (kill -9, power loss) between writing
        an upload's files and committing its rows left behind, and stray temporary files.

        Holds the store lock, so no upload is between its files and its commit meanwhile.

        Returns:
            The removed paths (each also logged).
        """
        removed: list[Path] = []
        with self.lock():
            with db.session() as session:
                known = {p for (p,) in session.execute(select(Study.image_path))}
                known |= {p for (p,) in session.execute(select(Study.display_path))}
                known |= {p for (p,) in session.execute(select(Prediction.heatmap_path)) if p}
            for folder in (self.root / name for name in _STORED_FOLDERS):
                if not folder.is_dir():
                    continue
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and path.relative_to(self.root).as_posix() not in known:
                        with contextlib.suppress(OSError):
                            path.unlink()
                            removed.append(path)
        for path in removed:
            log.warning("removed %s: no database row names it (left by an interrupted upload)", path)
        if removed:
            log.warning("start-up sweep removed %d file(s) left by interrupted uploads", len(removed))
        return removed

    @contextlib.contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """Write files that are removed again if the block raises (only files it created)."""
        txn = StoreTransaction(self)
        try:
            yield txn
        except BaseException:
            txn.rollback()
            raise


class StoreTransaction:
    """Files written within one ``ImageStore.transaction`` block."""

    def __init__(self, store: ImageStore):
        self.store = store
        self.created: list[Path] = []

    def put(self, relative: str, data: bytes) -> str:
        """Write ``data`` atomically at ``relative`` unless an identical file is already there.

        Returns:
            ``relative``, for storing in the database.
        """
        target = self.store.path(relative)
        if target.is_file() and target.stat().st_size == len(data):
            return relative  # content-addressed: same name, same bytes
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            existed = target.exists()
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if not existed:
            self.created.append(target)
        return relative

    def rollback(self) -> None:
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("removed %s after a failed upload", path)
        self.created.clear()


# The account tables (users, sessions, tokens, audit log) share this metadata, so that Alembic and
# every process that imports the storage models know them.
from pneumoscan.api import accounts as _accounts  # noqa: E402, F401
from pneumoscan.api import audit as _audit  # noqa: E402, F401
from pneumoscan.api.hospital import models as _hospital_models  # noqa: E402, F401
