"""``create_app``: the Flask application factory (Flask tutorial style, with ``test_config``).

Everything slow happens once, here, at start-up: the run folder's checkpoint is loaded into a
``Predictor`` (kept in ``app.extensions``), the database is migrated to the newest schema, the
model card is read. Requests then only decode, predict and store.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Flask, g, request

from pneumoscan.api.errors import register_error_handlers
from pneumoscan.api.hospital.sender import enqueue_results
from pneumoscan.api.services import EXTENSION, Services
from pneumoscan.api.settings import Settings, SettingsError, default_database_url
from pneumoscan.api.slow_clients import BodyReadGuard
from pneumoscan.api.storage import Database, ImageStore
from pneumoscan.models.checkpoint import checkpoint_sha256
from pneumoscan.models.recalibration import operating_point
from pneumoscan.serving.predictor import Predictor

log = logging.getLogger(__name__)
request_log = logging.getLogger("pneumoscan.api.requests")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the PneumoScan API application.

    Settings come from ``PNEUMOSCAN_*`` environment variables (see ``pneumoscan.api.settings``),
    then from ``test_config``, whose keys win: ``RUN_DIR``, ``DATA_DIR``, ``DATABASE_URL``,
    ``MAX_CONTENT_LENGTH``, ``WEB_DIR``, ``MAX_IMAGE_PIXELS``, and ``PREDICTOR`` (an already loaded
    ``Predictor``, so that tests can share one).

    Args:
        test_config: overrides for the Flask config.

    Returns:
        The application, with its ``Predictor`` loaded and its database migrated.

    Raises:
        SettingsError: no run folder was given or a setting is unusable (the message says which).
        FileNotFoundError: the run folder has no checkpoint.
    """
    from pneumoscan import __version__
    from pneumoscan.api.spec import configure_openapi

    app = APIFlask(__name__, title="PneumoScan API", version=__version__, static_folder=None, spec_path=None,
                   docs_path=None, docs_oauth2_redirect_path=None)
    configure_openapi(app)
    overrides = dict(test_config or {})
    env_settings = Settings.from_env()
    app.config.update(env_settings.flask_config())
    app.config.update(JSON_SORT_KEYS=False, MAX_FORM_MEMORY_SIZE=1024 * 1024, MAX_FORM_PARTS=20)
    if "DATA_DIR" in overrides and "DATABASE_URL" not in overrides and not _env_database_url():
        overrides["DATABASE_URL"] = default_database_url(Path(overrides["DATA_DIR"]))
    app.config.update(overrides)
    app.json.sort_keys = False

    predictor = app.config.get("PREDICTOR")
    run_dir = Path(app.config["RUN_DIR"]).expanduser().resolve() if app.config.get("RUN_DIR") else None
    if predictor is None:
        if run_dir is None:
            raise SettingsError(
                "No model to serve: set PNEUMOSCAN_RUN to a run folder written by `pneumoscan train` "
                "(or run `pneumoscan serve RUN_DIR`)."
            )
        predictor = Predictor.from_run(run_dir)
    if run_dir is None and getattr(predictor, "run_dir", None) is not None:
        run_dir = Path(predictor.run_dir)

    data_dir = Path(app.config["DATA_DIR"]).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(app.config["DATABASE_URL"], busy_timeout=float(app.config.get("DATABASE_BUSY_TIMEOUT", 30)))
    db.upgrade(lock_dir=data_dir)
    web_dir = Path(app.config["WEB_DIR"]).expanduser().resolve() if app.config.get("WEB_DIR") else None
    app.extensions[EXTENSION] = Services(
        predictor=predictor,
        db=db,
        store=ImageStore(data_dir),
        run_dir=run_dir,
        model_card=load_model_card(run_dir, predictor),
        model_id=model_id(run_dir, predictor),
        web_dir=web_dir if web_dir is not None and (web_dir / "index.html").is_file() else None,
        study_hooks=(enqueue_results,),  # DICOM results queued for the PACS, when one is configured
    )
    app.extensions["predictor"] = predictor
    app.extensions[EXTENSION].store.sweep(db)  # files a crash left between writing and committing

    register_error_handlers(app)
    _register_request_logging(app)
    app.wsgi_app = BodyReadGuard(app.wsgi_app, max_readers=int(app.config.get("BODY_READERS", 6)),
                                 max_body=app.config.get("MAX_CONTENT_LENGTH"))
    from pneumoscan.api.edge import install_edge

    install_edge(app)
    from pneumoscan.api.views import register_blueprints

    register_blueprints(app)
    from pneumoscan.api.access import init_auth

    init_auth(app)
    log.info(
        "serving model %s from %s; database %s; web app %s",
        predictor.model_version, run_dir, _redact(db.url), app.extensions[EXTENSION].web_dir or "not built",
    )
    return app


def _env_database_url() -> str:
    import os

    return os.environ.get("DATABASE_URL", "").strip()


def _redact(url: str) -> str:
    """Hide a password in a database URL for logging."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - logging must not fail on an odd URL
        return "<database url>"


def model_id(run_dir: Path | None, predictor: Predictor) -> str:
    """A short id of the exact weights served: SHA-256 of ``checkpoint.pt`` (first 16 hex digits)."""
    if run_dir is not None and (run_dir / "checkpoint.pt").is_file():
        return f"sha256:{checkpoint_sha256(run_dir)[:16]}"
    return f"version:{predictor.model_version}"


def load_model_card(run_dir: Path | None, predictor: Predictor) -> dict[str, Any]:
    """The run folder's ``model_card.json``, with the values serving uses taken from the checkpoint.

    ``threshold``, ``model_version``, ``class_names`` and ``preprocessing`` come from the loaded
    checkpoint (the card is a copy; the checkpoint is what predicts). ``threshold_rule`` becomes a
    sentence; ``figures`` maps each PNG in ``figures/`` to its URL.
    """
    card: dict[str, Any] = {}
    path = run_dir / "model_card.json" if run_dir else None
    if path is not None and path.is_file():
        try:
            card = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s (%s); serving a minimal model card", path, exc)
    for key, served in (("threshold", predictor.threshold), ("model_version", predictor.model_version)):
        if key in card and card[key] != served:
            log.warning("model_card.json says %s=%r but the checkpoint has %r; using the checkpoint", key,
                        card[key], served)
        card[key] = served
    card["class_names"] = list(predictor.class_names)
    card["preprocessing"] = predictor.preprocessing.to_dict()
    card.setdefault("backbone", predictor.meta.get("backbone"))
    card.setdefault("architecture", predictor.meta.get("backbone"))
    card.setdefault("weights_origin", predictor.meta.get("weights_origin"))
    rule = card.get("threshold_rule", predictor.meta.get("threshold_rule"))
    if isinstance(rule, dict):
        card["threshold_rule_detail"] = rule
        card["threshold_rule"] = describe_threshold_rule(rule)
    card.setdefault("training_data", {"fingerprint": predictor.meta.get("data_fingerprint")})
    # Where the model works: from the checkpoint, which is what refuses.
    card["intended_population"] = predictor.population.to_dict() if predictor.population else None
    check = predictor.population_check
    card["population_check"] = check.summary() if check else None
    card["subtype_head"] = predictor.subtype_head.summary() if predictor.subtype_head else None
    card.setdefault("metrics", {})
    figures: dict[str, str] = {}
    fig_dir = run_dir / "figures" if run_dir else None
    if fig_dir is not None and fig_dir.is_dir():
        for fig in sorted(fig_dir.glob("*.png")):
            figures[fig.stem] = f"/api/model/figures/{fig.name}"
    card["figures"] = figures
    card["operating_point"] = operating_point(predictor.meta)
    card["validation_reports"] = validation_reports(run_dir)
    return card


VALIDATION_SOURCE = re.compile(r"^[A-Za-z0-9_.-]+$")
"""A validation report's source name: its folder under ``RUN/validation/`` and a URL segment."""


def validation_reports(run_dir: Path | None) -> list[dict[str, Any]]:
    """Summaries of the ``pneumoscan validate`` reports attached to the run (``validation/*/report.json``).

    Each: source, n, answered, refused by reason, share called pneumonia, AUC / sensitivity /
    specificity / PPV / NPV / Brier as ``{value, ci_low, ci_high}`` or null, and figure URLs.
    """
    root = run_dir / "validation" if run_dir else None
    if root is None or not root.is_dir():
        return []
    reports = []
    for path in sorted(root.glob("*/report.json")):
        source = path.parent.name
        if not VALIDATION_SOURCE.match(source):
            continue
        try:
            r = json.loads(path.read_text())
            metrics = r.get("metrics") or {}
            reports.append({
                "source": source,
                "n": int(r["n"]),
                "answered": int(r["answered"]),
                "refused": {str(k): int(v) for k, v in (r.get("refused") or {}).items()},
                "pneumonia_called_share": r.get("pneumonia_called_share"),
                "counts": r.get("counts"),
                "threshold": (r.get("run") or {}).get("threshold"),
                **{k: metrics.get(k) for k in ("auc", "sensitivity", "specificity", "ppv", "npv", "brier")},
                "null_reasons": r.get("null_reasons") or {},
                "created_at": r.get("created_at"),
                "figures": {fig.stem: f"/api/model/validation/{source}/{fig.name}"
                            for fig in sorted(path.parent.glob("*.png"))},
            })
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read validation report %s (%s); not listed", path, exc)
    return reports


def describe_threshold_rule(rule: dict) -> str:
    """``{"rule": "sensitivity", "min_sensitivity": 0.95}`` -> a sentence for people."""
    name = str(rule.get("rule", ""))
    where = (f"on the labelled images of site {rule['site']}" if rule.get("source") == "site"
             else "on the validation split")
    if name == "sensitivity" and rule.get("min_sensitivity") is not None:
        return f"highest threshold with sensitivity >= {float(rule['min_sensitivity']):.2f} {where}"
    if name == "youden":
        return f"maximises Youden's J (sensitivity + specificity - 1) {where}"
    if name == "fixed" and rule.get("fixed_threshold") is not None:
        site = f" for site {rule['site']}" if rule.get("source") == "site" else ""
        return f"fixed at {float(rule['fixed_threshold']):.2f}{site}"
    return ", ".join(f"{k}={v}" for k, v in rule.items())


def _register_request_logging(app: Flask) -> None:
    """One log line per request: method, path, status, size, milliseconds, request id."""

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = uuid.uuid4().hex[:16]  # always ours: a client's id is never stored or echoed
        given = request.headers.get("X-Request-ID", "")
        g.client_request_id = given if _REQUEST_ID.match(given) else ("<invalid>" if given else None)

    from pneumoscan.api.access import client_address  # the real client's, behind a trusted proxy

    @app.after_request
    def _log(response):
        started = g.get("request_started")
        ms = (time.perf_counter() - started) * 1000 if started else 0.0
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        request_log.info(
            '%s "%s %s" %s %s %.1fms id=%s%s',
            client_address() or "-", request.method, _loggable_path(),
            response.status_code, response.content_length if response.content_length is not None else "-",
            ms, g.get("request_id", "-"),
            f" client_id={g.client_request_id}" if g.get("client_request_id") else "",
        )
        return response


def _loggable_path() -> str:
    """The request path and query for the log, with search words (which may be patient names) hidden."""
    if not request.args:
        return request.path
    from urllib.parse import urlencode

    shown = [(k, "<hidden>" if k in ("q", "user") else v) for k, v in request.args.items(multi=True)]
    return f"{request.path}?{urlencode(shown, safe='<>')}"
