"""``pneumoscan serve RUN_DIR``: the API (and the web app's static export) under gunicorn.

Bound to 127.0.0.1 unless told otherwise. The database is migrated once in the master process,
which then loads the app once (``create_app``: the checkpoint, the exported serving graph) before
forking the workers (``preload_app``), so the workers share that memory copy-on-write. The master
loads with one PyTorch thread, so no OpenMP pool exists to cross the fork; each worker then takes
its share of the cores, opens its own database connections, creates its runtime session (ONNX
Runtime's thread pool is made after the fork) and answers requests on a few threads (gthread),
whose concurrent forward passes coalesce in that worker's ``Predictor``.

Equivalent by hand: ``PNEUMOSCAN_RUN=runs/default gunicorn -k gthread 'pneumoscan.api:create_app()'``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from pneumoscan.api.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_THREADS = 4


def gunicorn_options(
    settings: Settings, workers: int, threads: int = DEFAULT_THREADS, timeout: int = 120
) -> dict[str, Any]:
    """The gunicorn settings ``serve`` uses (exposed for tests and benchmarks)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,  # the app logs one line per request itself
        "errorlog": "-",
        "loglevel": "info",
        "preload_app": True,  # load once in the master: workers share the model's memory
        "post_worker_init": _init_worker,
        "proc_name": "pneumoscan",
    }


def _share_cores(worker) -> None:
    """Give each worker its share of the CPU cores for PyTorch's intra-op threads."""
    import torch

    workers = max(1, int(worker.cfg.workers))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def _init_worker(worker) -> None:
    """After the fork: the worker's share of the cores, its own database connections, a warm model."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("pneumoscan")
    if services is None:
        _share_cores(worker)
        return
    services.predictor.use_cores(max(1, (os.cpu_count() or 1) // max(1, int(worker.cfg.workers))))
    services.db.engine.dispose(close=False)  # connections opened by the master stay the master's
    services.predictor.warm_up()


def serve(
    run_dir: str | Path,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
) -> None:
    """Run the API with gunicorn until interrupted.

    Args:
        run_dir: the run folder to serve (``checkpoint.pt`` inside).
        host: interface to bind (default ``PNEUMOSCAN_HOST`` or 127.0.0.1: this machine only).
        port: TCP port (default ``PNEUMOSCAN_PORT`` or 8000).
        workers: worker processes, each with its own copy of the model (default 1).
        threads: request threads per worker.

    Raises:
        FileNotFoundError: the run folder has no ``checkpoint.pt``.
        ValueError: a setting is out of range.
    """
    from gunicorn.app.base import BaseApplication

    from pneumoscan.api.storage import Database

    run = Path(run_dir).expanduser().resolve()
    if not (run / "checkpoint.pt").is_file():
        raise FileNotFoundError(
            f"No checkpoint.pt in {run}. Pass a run folder written by `pneumoscan train` (e.g. runs/default)."
        )
    workers = 1 if workers is None else int(workers)
    if not 1 <= workers <= 64:
        raise ValueError(f"--workers must be between 1 and 64, got {workers}.")
    if not 1 <= threads <= 64:
        raise ValueError(f"threads must be between 1 and 64, got {threads}.")
    settings = Settings.from_env()
    settings = dataclasses.replace(
        settings,
        run_dir=run,
        host=host or settings.host,
        port=int(port) if port is not None else settings.port,
    )
    if not 1 <= settings.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535, got {settings.port}.")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.upgrade(lock_dir=settings.data_dir)  # once, before any worker starts
    from pneumoscan.users_cli import ensure_first_admin

    first_password = ensure_first_admin(db)
    db.dispose()
    if first_password:
        print(
            "\n  No user existed, so an administrator account was created:\n"
            f"    username: admin\n    password: {first_password}\n"
            "  It is shown only this once. Sign in at the web app and create personal accounts;\n"
            "  change this password with `pneumoscan users reset-password admin`\n"
            "  (add --password-stdin to choose it).\n",
            flush=True,
        )
    flask_config = settings.flask_config()
    options = gunicorn_options(settings, workers, threads)

    class PneumoScanServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from pneumoscan.api.app import create_app

            return create_app(flask_config)

    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding to %s: the API is reachable from other machines; serve it behind HTTPS",
                    settings.host)
    log.info("serving %s on http://%s:%d with %d worker(s) x %d threads", run, settings.host, settings.port,
             workers, threads)
    import torch

    torch.set_num_threads(1)  # the master only loads: no OpenMP thread pool to inherit across the fork
    PneumoScanServer().run()
