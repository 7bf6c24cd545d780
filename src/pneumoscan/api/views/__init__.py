"""Blueprints: one module per resource."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
"""Largest row id (a 32-bit INTEGER on PostgreSQL): bigger ids in a URL are simply not found."""


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1..2**31-1; anything else does not match the route (404)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        super().__init__(map, min=1, max=MAX_ID)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint; the web app's static export last, so ``/api`` always wins."""
    from pneumoscan.api.views import images, meta, patients, reports, studies, web

    app.url_map.converters["id"] = IdConverter

    for module in (meta, images, patients, studies, reports):
        app.register_blueprint(module.bp)
    from pneumoscan.api.views import admin, auth

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    from pneumoscan.api.hospital import views as hospital

    app.register_blueprint(hospital.bp)
    app.register_blueprint(hospital.stow_bp)
    app.register_blueprint(web.bp)
