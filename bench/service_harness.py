"""The real supervised service for the load benchmarks: start, sign in, find its processes, check storage.

Used by ``bench/load_and_fault.py`` and ``bench/memory_under_load.py``; not a benchmark itself.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from serve_latency import REPO, free_port, stop, wait_ready

log = logging.getLogger("bench")


@dataclass
class Service:
    """``pneumoscan serve RUN`` (supervised) on a fresh data folder, with a clinician's API token."""

    run: Path
    data_dir: Path
    workers: int = 2
    threads: int = 8
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    auth: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> Service:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(self.data_dir),
               "PNEUMOSCAN_WEB_DIR": str(self.data_dir / "no-web"), **self.env_extra}
        env.pop("DATABASE_URL", None)
        cli = [sys.executable, "-m", "pneumoscan", "users"]
        subprocess.run([*cli, "create", "bench", "--role", "clinician"], env=env, check=True, capture_output=True)
        token = subprocess.run([*cli, "token", "bench"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip()
        self.auth = {"Authorization": f"Bearer {token}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pneumoscan", "serve", str(self.run), "--port", str(self.port), "--workers",
             str(self.workers), "--threads", str(self.threads)],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, env=env)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 300) -> float:
        """Seconds until ``/api/health`` answers 200 with every worker up."""
        started = time.monotonic()
        wait_ready(f"{self.base}/api/health", self.proc, self.log_path, timeout)
        while time.monotonic() - started < timeout:
            try:
                if requests.get(f"{self.base}/api/health", timeout=5).status_code == 200 \
                        and len(self.workers_pids()) == self.workers:
                    return time.monotonic() - started
            except (requests.ConnectionError, requests.Timeout, psutil.Error, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"not healthy after {timeout} s:\n{self.log_path.read_text()[-2000:]}")

    def master_pid(self) -> int:
        children = [c for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        if len(children) != 1:
            raise ValueError(f"{len(children)} gunicorn masters")
        return children[0].pid

    def workers_pids(self) -> list[int]:
        return [w.pid for w in psutil.Process(self.master_pid()).children()]

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    # --- storage checks -------------------------------------------------------------------------

    def count(self, table: str) -> int:
        with sqlite3.connect(self.data_dir / "pneumoscan.db") as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our table names

    def storage_problems(self) -> dict[str, int]:
        """Files without rows, rows without files, studies without a prediction (all should be 0)."""
        with sqlite3.connect(self.data_dir / "pneumoscan.db") as db:
            rows = db.execute("SELECT s.image_path, s.display_path, p.heatmap_path FROM studies s "
                              "LEFT JOIN predictions p ON p.study_id = s.id").fetchall()
        named = {path for row in rows for path in row if path}
        on_disk = {p.relative_to(self.data_dir).as_posix() for folder in ("images", "heatmaps")
                   for p in (self.data_dir / folder).rglob("*") if p.is_file()}
        return {"orphan_files": len(on_disk - named), "missing_files": len(named - on_disk),
                "studies_without_prediction": sum(1 for row in rows if row[2] is None)}


def unique_xray(sample: Path, i: int) -> bytes:
    """The sample X-ray as PNG with one pixel changed: a different file (and SHA-256) for each ``i``."""
    from PIL import Image

    with Image.open(sample) as im:
        im = im.convert("L")
        im.thumbnail((512, 512))
        im.putpixel((i % im.width, (i // im.width) % im.height), (i * 37) % 256)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    return buf.getvalue()


def default_run() -> Path:
    return REPO / "runs" / "default"


def default_sample() -> Path:
    return REPO / "samples" / "person1946_bacteria_4874.jpeg"
