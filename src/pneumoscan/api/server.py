"""``pneumoscan serve RUN_DIR``: the API (and the web app's static export) under gunicorn, supervised.

Bound to 127.0.0.1 unless told otherwise. The database is migrated once before the workers start.
The gunicorn master then loads the app once (``create_app``: the checkpoint, the exported serving
graph) before forking the workers (``preload_app``), so the workers share that memory
copy-on-write. The master loads with one PyTorch thread, so no OpenMP pool exists to cross the
fork; each worker then takes its share of the cores, opens its own database connections, creates
its runtime session (ONNX Runtime is imported after the fork) and answers requests on a few threads
(gthread), whose concurrent forward passes coalesce in that worker's ``Predictor``. A request body
is read whole, on a deadline, by at most ``threads - 2`` threads at once
(``pneumoscan.api.slow_clients``), so slow clients cannot take every thread.

The service restarts itself. gunicorn restarts a worker that dies; ``serve`` itself is a small
supervisor that holds the listening socket and runs the gunicorn master as a child process, handing
it the socket (``bind fd://N``): when the master dies (kill -9, a crash), a new one starts on the
same socket after a short back-off, and connections that arrive meanwhile wait in the socket's
backlog instead of being refused. SIGTERM/SIGINT/SIGHUP go to the master. ``deploy/pneumoscan.service``
adds systemd's restart on top, for the supervisor itself and for reboots.

With ``PNEUMOSCAN_DICOM_PORT`` or ``PNEUMOSCAN_DICOM_DESTINATION`` set, one more process runs beside
the workers: the DICOM receiver and the result sender (``pneumoscan.api.hospital``; docs/hospital.md).

Equivalent by hand (unsupervised): ``PNEUMOSCAN_RUN=runs/default gunicorn -k gthread 'pneumoscan.api:create_app()'``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pneumoscan.api.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
FREE_THREADS = 2
"""Threads per worker that never wait for a request body (health checks, reads, predictions)."""
RESTART_BACKOFF_S = (1.0, 30.0)
"""First and longest wait before the supervisor starts a new gunicorn master."""


def gunicorn_options(
    settings: Settings, workers: int, threads: int = DEFAULT_THREADS, timeout: int = 120,
    listen_fd: int | None = None,
) -> dict[str, Any]:
    """The gunicorn settings ``serve`` uses (exposed for tests and benchmarks)."""
    return {
        "bind": f"fd://{listen_fd}" if listen_fd is not None else f"{settings.host}:{settings.port}",
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
    """After the fork: the worker's share of the cores, its own database connections, the store's
    sweep, a warm model."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("pneumoscan")
    if services is None:
        _share_cores(worker)
        return
    services.predictor.use_cores(max(1, (os.cpu_count() or 1) // max(1, int(worker.cfg.workers))))
    services.db.engine.dispose(close=False)  # connections opened by the master stay the master's
    # A worker that replaces a killed one sweeps what that one left half-stored (create_app swept
    # only once, in the master, before the first workers).
    services.store.sweep(services.db)
    services.predictor.warm_up()


def serve(
    run_dir: str | Path,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    supervise: bool = True,
    listen_fd: int | None = None,
) -> int:
    """Run the API with gunicorn until interrupted.

    Args:
        run_dir: the run folder to serve (``checkpoint.pt`` inside).
        host: interface to bind (default ``PNEUMOSCAN_HOST`` or 127.0.0.1: this machine only).
        port: TCP port (default ``PNEUMOSCAN_PORT`` or 8000).
        workers: worker processes, each with its own copy of the model (default 1).
        threads: request threads per worker.
        supervise: hold the socket and restart the gunicorn master when it dies (default).
        listen_fd: an already listening socket to serve on (what the supervisor hands its child).

    Returns:
        The exit status.

    Raises:
        FileNotFoundError: the run folder has no ``checkpoint.pt``.
        ValueError: a setting is out of range.
    """
    run = Path(run_dir).expanduser().resolve()
    if not (run / "checkpoint.pt").is_file():
        raise FileNotFoundError(
            f"No checkpoint.pt in {run}. Pass a run folder written by `pneumoscan train` (e.g. runs/default)."
        )
    workers = 1 if workers is None else int(workers)
    if not 1 <= workers <= 64:
        raise ValueError(f"--workers must be between 1 and 64, got {workers}.")
    if not FREE_THREADS < threads <= 64:
        raise ValueError(f"--threads must be between {FREE_THREADS + 1} and 64, got {threads}.")
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

    _prepare_database(settings)
    if supervise and listen_fd is None:
        return _supervise(settings, run, workers, threads)
    flask_config = settings.flask_config()
    flask_config["BODY_READERS"] = threads - FREE_THREADS
    options = gunicorn_options(settings, workers, threads, listen_fd=listen_fd)
    from gunicorn.app.base import BaseApplication

    class PneumoScanServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from pneumoscan.api.app import create_app

            return create_app(flask_config)

    if listen_fd is None:
        _warn_if_public(settings.host)
    log.info("serving %s on http://%s:%d with %d worker(s) x %d threads", run, settings.host, settings.port,
             workers, threads)
    import torch

    torch.set_num_threads(1)  # the master only loads: no OpenMP thread pool to inherit across the fork
    from pneumoscan.api.dicom_process import start_hospital_process

    hospital = start_hospital_process(flask_config)  # DICOM receiver and sender, when configured
    try:
        PneumoScanServer().run()
    finally:
        if hospital is not None:
            hospital.terminate()
            hospital.join(timeout=10)
    return 0


def _prepare_database(settings: Settings) -> None:
    """Migrate once, before any worker starts; create the first admin (password printed once)."""
    from pneumoscan.api.accounts import ensure_first_admin
    from pneumoscan.api.storage import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.upgrade(lock_dir=settings.data_dir)
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


def _warn_if_public(host: str) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding to %s: the API is reachable from other machines; serve it behind HTTPS", host)


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket that child processes inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _supervise(settings: Settings, run: Path, workers: int, threads: int) -> int:
    """Run the gunicorn master as a child on a socket held here; start a new one whenever it dies."""
    sock = listen(settings.host, settings.port)
    _warn_if_public(settings.host)
    fd = sock.fileno()
    command = [sys.executable, "-m", "pneumoscan", "serve", str(run), "--host", settings.host, "--port",
               str(settings.port), "--workers", str(workers), "--threads", str(threads), "--listen-fd", str(fd)]
    state: dict[str, Any] = {"child": None, "stopping": False}

    def forward(signum, _frame) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            state["stopping"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    backoff, longest = RESTART_BACKOFF_S
    wait = backoff
    log.info("supervisor %d holds %s:%d; starting the gunicorn master", os.getpid(), settings.host, settings.port)
    try:
        while True:
            started = time.monotonic()
            # its own process group: a terminal's Ctrl-C reaches the master once, forwarded from here
            state["child"] = subprocess.Popen(command, pass_fds=(fd,), process_group=0)
            code = state["child"].wait()
            if state["stopping"]:
                return code if code >= 0 else 0
            up = time.monotonic() - started
            wait = backoff if up > 60 else wait
            log.error("the gunicorn master (pid %d) exited with %s after %.0f s; starting a new one in %.0f s",
                      state["child"].pid, code, up, wait)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not state["stopping"]:
                time.sleep(0.1)
            if state["stopping"]:
                return 0
            wait = min(wait * 2, longest)
    finally:
        sock.close()
