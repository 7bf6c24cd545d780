"""DICOM settings from ``PNEUMOSCAN_DICOM_*`` environment variables (Flask config keys win in tests).

| variable | default |
|---|---|
| ``PNEUMOSCAN_DICOM_PORT`` | none: no C-STORE receiver. A port (e.g. ``11112``) starts one with ``pneumoscan serve`` |
| ``PNEUMOSCAN_DICOM_HOST`` | ``PNEUMOSCAN_HOST`` or ``127.0.0.1``: the interface the receiver listens on |
| ``PNEUMOSCAN_DICOM_AE_TITLE`` | ``PNEUMOSCAN`` |
| ``PNEUMOSCAN_DICOM_ALLOWED_AETS`` | none: comma-separated calling AE titles allowed to send; others are rejected |
| ``PNEUMOSCAN_DICOM_DESTINATION`` | none: ``AE@host:port`` where the SR, heatmap and PDF of each study are sent |
| ``PNEUMOSCAN_DICOM_RETRY_SECONDS`` | ``30``: first wait after a failed send (doubles each try, at most 1 hour) |
| ``PNEUMOSCAN_DICOM_SEND_SECONDS`` | ``5``: how often the sender looks for results to send |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pneumoscan.api.settings import SettingsError

_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # DICOM AE: 16 chars, no backslash or control chars


@dataclass(frozen=True)
class Destination:
    """A DICOM peer: ``AE@host:port``."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"

    @classmethod
    def parse(cls, raw: str, name: str = "PNEUMOSCAN_DICOM_DESTINATION") -> Destination:
        """``ORTHANC@pacs.example.org:4242`` -> ``Destination``.

        Raises:
            SettingsError: not of that form (the message shows one).
        """
        match = re.fullmatch(r"\s*([^@]{1,16})@([^:@\s]+):(\d{1,5})\s*", raw)
        if not match or not _AE.match(match.group(1).strip()) or not 1 <= int(match.group(3)) <= 65535:
            raise SettingsError(
                f"{name}={raw!r} is not AE_TITLE@host:port; write it like ORTHANC@127.0.0.1:4242."
            )
        return cls(match.group(1).strip(), match.group(2), int(match.group(3)))


@dataclass(frozen=True)
class DicomSettings:
    """The receiver's and the sender's settings."""

    port: int | None = None
    host: str = "127.0.0.1"
    ae_title: str = "PNEUMOSCAN"
    allowed_aets: tuple[str, ...] = ()
    destination: Destination | None = None
    retry_seconds: float = 30.0
    send_interval: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DicomSettings:
        """Read ``PNEUMOSCAN_DICOM_*``.

        Raises:
            SettingsError: a value that cannot be used (the message names the variable and the fix).
        """
        env = os.environ if environ is None else environ
        raw_port = env.get("PNEUMOSCAN_DICOM_PORT", "").strip()
        port = None
        if raw_port:
            if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
                raise SettingsError(f"PNEUMOSCAN_DICOM_PORT={raw_port!r} must be a port between 1 and 65535.")
            port = int(raw_port)
        ae = env.get("PNEUMOSCAN_DICOM_AE_TITLE", "").strip() or "PNEUMOSCAN"
        if not _AE.match(ae):
            raise SettingsError(f"PNEUMOSCAN_DICOM_AE_TITLE={ae!r} must be 1-16 plain characters.")
        allowed = tuple(a.strip() for a in env.get("PNEUMOSCAN_DICOM_ALLOWED_AETS", "").split(",") if a.strip())
        for a in allowed:
            if not _AE.match(a):
                raise SettingsError(f"PNEUMOSCAN_DICOM_ALLOWED_AETS has {a!r}, which is not an AE title.")
        dest = env.get("PNEUMOSCAN_DICOM_DESTINATION", "").strip()
        retry_seconds = _seconds(env, "PNEUMOSCAN_DICOM_RETRY_SECONDS", 30.0)
        send_interval = _seconds(env, "PNEUMOSCAN_DICOM_SEND_SECONDS", 5.0)
        host = (env.get("PNEUMOSCAN_DICOM_HOST", "").strip() or env.get("PNEUMOSCAN_HOST", "").strip()
                or "127.0.0.1")
        return cls(port=port, host=host, ae_title=ae, allowed_aets=allowed,
                   destination=Destination.parse(dest) if dest else None, retry_seconds=retry_seconds,
                   send_interval=send_interval)

    @classmethod
    def for_app(cls, config: Mapping[str, Any]) -> DicomSettings:
        """The environment's settings with any ``DICOM_*`` Flask config keys on top (tests use them)."""
        base = cls.from_env()
        dest = config.get("DICOM_DESTINATION", base.destination)
        if isinstance(dest, str):
            dest = Destination.parse(dest) if dest else None
        return cls(
            port=config.get("DICOM_PORT", base.port),
            host=config.get("DICOM_HOST", base.host),
            ae_title=config.get("DICOM_AE_TITLE", base.ae_title),
            allowed_aets=tuple(config.get("DICOM_ALLOWED_AETS", base.allowed_aets)),
            destination=dest,
            retry_seconds=float(config.get("DICOM_RETRY_SECONDS", base.retry_seconds)),
            send_interval=float(config.get("DICOM_SEND_SECONDS", base.send_interval)),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 86400:
        raise SettingsError(f"{name}={raw!r} must be a number of seconds between 0.1 and 86400.")
    return value
