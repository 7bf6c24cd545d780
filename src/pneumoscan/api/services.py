"""``Services``: what the views use (model, database, image store, model card), built once per
application by ``create_app`` and kept in ``app.extensions["pneumoscan"]``.

Its own module so that views, intake and the hospital package can reach it without importing the
application factory that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from pneumoscan.api.orm import Study
from pneumoscan.api.storage import Database, ImageStore
from pneumoscan.serving.predictor import Predictor

EXTENSION = "pneumoscan"

StudyHook = Callable[[Session, Study], Any]
"""Called with each newly stored, predicted study inside its transaction (e.g. to queue its results)."""


@dataclass
class Services:
    """What the views use; built once per application and kept in ``app.extensions["pneumoscan"]``."""

    predictor: Predictor
    db: Database
    store: ImageStore
    run_dir: Path | None
    model_card: dict[str, Any]
    model_id: str
    web_dir: Path | None
    study_hooks: tuple[StudyHook, ...] = ()


def services() -> Services:
    """The current application's ``Services``."""
    return current_app.extensions[EXTENSION]
