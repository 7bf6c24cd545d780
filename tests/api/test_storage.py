"""Alembic migrations build exactly the SQLAlchemy models' schema, and can be undone."""

from __future__ import annotations

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from pneumoscan.api.orm import Base
from pneumoscan.api.storage import Database, downgrade_database, upgrade_database


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    upgrade_database(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"patients", "studies", "predictions", "reports", "alembic_version"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []  # the migration and the models agree, column for column
    downgrade_database(engine)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_upgrading_twice_is_harmless_and_keeps_the_data(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade(lock_dir=tmp_path)
    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("INSERT INTO patients (name, mrn, sex, created_at, updated_at) "
                     "VALUES ('A', 'M1', 'unknown', '2024-01-01', '2024-01-01')")
    db.upgrade(lock_dir=tmp_path)
    with sqlite3.connect(tmp_path / "p.db") as conn:
        assert conn.execute("SELECT mrn FROM patients").fetchall() == [("M1",)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.dispose()
