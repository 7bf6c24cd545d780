"""Server settings from ``PNEUMOSCAN_*`` environment variables (and ``DATABASE_URL``).

| variable | default |
|---|---|
| ``PNEUMOSCAN_RUN`` | none (required): the run folder written by ``pneumoscan train`` |
| ``PNEUMOSCAN_DATA_DIR`` | ``./data``: database file, stored images and heatmaps |
| ``DATABASE_URL`` | ``sqlite:///<data dir>/pneumoscan.db`` (PostgreSQL: ``postgresql+psycopg://...``) |
| ``PNEUMOSCAN_HOST`` | ``127.0.0.1`` |
| ``PNEUMOSCAN_PORT`` | ``8000`` |
| ``PNEUMOSCAN_MAX_UPLOAD_MB`` | ``32`` |
| ``PNEUMOSCAN_WEB_DIR`` | ``web/out`` (the web app's static export; served at ``/`` when present) |
| ``PNEUMOSCAN_MAX_IMAGE_MEGAPIXELS`` | ``50`` |
| ``PNEUMOSCAN_RUNTIME`` | ``onnx`` where onnxruntime is installed, else ``torch`` (``serving.runtime``) |
| ``PNEUMOSCAN_PREDICT_REQUIRES_LOGIN`` | ``0`` (``1``: ``/api/predict`` and ``/api/inspect`` need an account) |
| ``PNEUMOSCAN_COOKIE_SECURE`` | ``0``: cookies Secure when the request came over HTTPS; ``1``: always |
| ``PNEUMOSCAN_TRUSTED_PROXIES`` | none: proxies (IPs/networks, commas) whose ``X-Forwarded-For`` is believed |
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start."""

    run_dir: Path | None
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 32.0
    web_dir: Path = Path("web/out")
    max_image_megapixels: float = 50.0
    predict_requires_login: bool = False
    cookie_secure: bool = False
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``).

        Raises:
            SettingsError: a number that does not parse or is out of range.
        """
        env = os.environ if environ is None else environ
        run = env.get("PNEUMOSCAN_RUN", "").strip()
        data_dir = Path(env.get("PNEUMOSCAN_DATA_DIR", "").strip() or "data").expanduser().resolve()
        url = env.get("DATABASE_URL", "").strip() or default_database_url(data_dir)
        return cls(
            run_dir=Path(run).expanduser() if run else None,
            data_dir=data_dir,
            database_url=url,
            host=env.get("PNEUMOSCAN_HOST", "").strip() or "127.0.0.1",
            port=_number(env, "PNEUMOSCAN_PORT", 8000, int, 1, 65535),
            max_upload_mb=_number(env, "PNEUMOSCAN_MAX_UPLOAD_MB", 32.0, float, 0.001, 4096),
            web_dir=Path(env.get("PNEUMOSCAN_WEB_DIR", "").strip() or "web/out").expanduser(),
            max_image_megapixels=_number(env, "PNEUMOSCAN_MAX_IMAGE_MEGAPIXELS", 50.0, float, 0.01, 1000),
            predict_requires_login=_flag(env, "PNEUMOSCAN_PREDICT_REQUIRES_LOGIN"),
            cookie_secure=_flag(env, "PNEUMOSCAN_COOKIE_SECURE"),
            trusted_proxies=parse_networks(env.get("PNEUMOSCAN_TRUSTED_PROXIES", ""), "PNEUMOSCAN_TRUSTED_PROXIES"),
        )

    def flask_config(self) -> dict:
        """The Flask config keys ``create_app`` reads."""
        return {
            "RUN_DIR": self.run_dir,
            "DATA_DIR": self.data_dir,
            "DATABASE_URL": self.database_url,
            "MAX_CONTENT_LENGTH": int(self.max_upload_mb * 1024 * 1024),
            "WEB_DIR": self.web_dir,
            "MAX_IMAGE_PIXELS": int(self.max_image_megapixels * 1_000_000),
            "PREDICT_REQUIRES_LOGIN": self.predict_requires_login,
            "AUTH_COOKIE_SECURE": True if self.cookie_secure else None,
            "TRUSTED_PROXIES": self.trusted_proxies,
        }


def default_database_url(data_dir: Path) -> str:
    """``sqlite:///`` URL of ``pneumoscan.db`` inside ``data_dir`` (absolute path)."""
    return f"sqlite:///{(Path(data_dir).resolve() / 'pneumoscan.db').as_posix()}"


def _number(env: Mapping[str, str], name: str, default, kind, lo, hi):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a number; set it to a {kind.__name__} such as {default}."
        ) from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={raw} is out of range; use a value between {lo} and {hi}.")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r} is not a yes/no value; set it to 1 or 0.")


def parse_networks(raw: str, name: str) -> tuple[str, ...]:
    """``"10.0.0.2, 192.168.1.0/24"`` -> the networks as strings (a bare address is a /32 or /128).

    Raises:
        SettingsError: an entry that is not an IP address or network.
    """
    out = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            out.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {entry!r} is not an IP address or network; write e.g. 127.0.0.1 or "
                                "10.0.0.0/8, separated by commas.") from None
    return tuple(out)
