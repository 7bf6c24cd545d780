"""Fixtures for the API tests: one real tiny run's Predictor per session, a fresh app (real SQLite
file in a temporary data folder) per test, and real images made on the spot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pneumoscan.api import create_app
from pneumoscan.serving.predictor import Predictor

from .api_helpers import png_bytes, xray
from .auth_helpers import bearer_client


@pytest.fixture(scope="session")
def predictor(tiny_run: Path) -> Predictor:
    return Predictor.from_run(tiny_run)


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture()
def app(tiny_run: Path, predictor: Predictor, data_dir: Path, tmp_path: Path):
    return create_app(
        {
            "TESTING": True,
            "RUN_DIR": tiny_run,
            "PREDICTOR": predictor,
            "DATA_DIR": data_dir,
            "WEB_DIR": tmp_path / "no-web",
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        }
    )


@pytest.fixture()
def client(app):
    """Signed in as a clinician with an API token (``anon_client`` has no credentials)."""
    return bearer_client(app, "clinician")


@pytest.fixture()
def anon_client(app):
    return app.test_client()


@pytest.fixture()
def admin_client(app):
    return bearer_client(app, "admin")


@pytest.fixture(scope="session")
def xray_png() -> Callable[[int, bool], bytes]:
    return lambda seed=0, pneumonia=False: png_bytes(xray(seed, pneumonia))
