"""Blueprints: one module per resource."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from pneumoscan.api.schemas import MAX_ID  # bigger ids in a URL are simply not found


def decimal_range_regex(largest: int) -> str:
    """A regex matching exactly the decimal integers 1..``largest`` (no sign, no leading zero).

    The range must be in the regex itself: werkzeug collects a route's methods for a 405 as soon as its
    regex matches, before the converter's own min/max check, so ``PATCH /api/patients/0`` would answer
    "405, use GET" where there is simply no such patient.
    """
    digits = str(largest)
    width = len(digits)
    alternatives = [rf"[1-9]\d{{0,{width - 2}}}"] if width > 1 else []
    for i, ch in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(ch) > low:
            rest = width - i - 1
            alternatives.append(f"{digits[:i]}[{low}-{int(ch) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1..2**31-1; anything else does not match the route (404)."""

    regex = decimal_range_regex(MAX_ID)

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        super().__init__(map, min=1, max=MAX_ID)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint; the web app's static export last, so ``/api`` always wins."""
    from pneumoscan.api.views import images, meta, patients, reports, studies, web

    app.url_map.converters["id"] = IdConverter

    for module in (meta, images, patients, studies, reports):
        app.register_blueprint(module.bp)
    from pneumoscan.api.views import admin, auth, hospital

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)

    app.register_blueprint(hospital.bp)
    app.register_blueprint(hospital.stow_bp)
    app.register_blueprint(web.bp)
    from pneumoscan.api.declare import EXTENSION, access_table

    app.extensions[EXTENSION] = access_table(app)
