"""Alembic environment for PneumoScan's database.

Used two ways: programmatically (``pneumoscan.api.storage.upgrade_database`` passes a live
connection in ``config.attributes["connection"]``) and from the command line with
``alembic -c src/pneumoscan/api/alembic.ini upgrade head`` (the URL comes from ``DATABASE_URL``,
else the ini file's ``sqlalchemy.url``).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from pneumoscan.api.orm import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Set DATABASE_URL (e.g. sqlite:///data/pneumoscan.db) to run the migrations.")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
