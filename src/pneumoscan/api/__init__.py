"""Flask API: ``create_app()`` serves a trained run folder, stores studies and issues reports.

Run it with ``pneumoscan serve RUN_DIR`` (gunicorn) or ``gunicorn 'pneumoscan.api:create_app()'``
with ``PNEUMOSCAN_RUN`` set. Nothing in the library imports this package.

``create_app`` is imported lazily, so that ``pneumoscan.api.storage`` (used by the Alembic
migrations) can be imported without loading Flask and PyTorch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from pneumoscan.api.app import create_app

        return create_app
    raise AttributeError(f"module 'pneumoscan.api' has no attribute {name!r}")
