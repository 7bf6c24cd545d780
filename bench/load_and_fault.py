"""Load and faults on the real supervised service (``pneumoscan serve``, gunicorn, SQLite), in one run.

    .venv/bin/python bench/load_and_fault.py [--clients 8] [--load-seconds 120] [--slow-clients 12]
        [--slow-seconds 30] [--uploads 40] [--workers 2] [--run runs/default]

1. **Load**: ``--clients`` clients for ``--load-seconds``, each looping: create a patient, upload a
   study for it (a distinct image each time), read its report, list the patient's studies, predict
   without storing. Expect 0 errors, and database rows exactly equal to the successful requests
   (patients, studies, predictions, reports, one audit row per audited request).
2. **Slow clients**: ``--slow-clients`` connections that declare a 200 kB upload and send a byte
   every 2 s, while ``/api/health`` is asked every 0.5 s. Expect every health check answered.
3. **kill -9 of a worker** during ``--uploads`` concurrent uploads, twice. Expect, once gunicorn
   has restarted it: no file without a row, no row without its files, no study without a prediction.
4. **kill -9 of the gunicorn master**. Expect the service back by itself (the supervisor in
   ``pneumoscan serve`` starts a new master on the socket it holds) and health checks that waited
   rather than were refused.

Prints the figures; asserts nothing (timings are not tests; tests/api/test_service.py checks behaviour).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from service_harness import Service, default_run, default_sample, unique_xray

log = logging.getLogger("bench")


def load_phase(svc: Service, clients: int, seconds: float, sample: Path) -> dict:
    """Every client loops over five requests; every answer is checked; counts are compared with the DB."""
    counter = itertools.count()
    lock = threading.Lock()
    done: Counter = Counter()
    errors: list[str] = []
    audited = 0
    audit_before = svc.count("audit_log")  # `pneumoscan users create/token` wrote their own rows
    stop_at = time.monotonic() + seconds

    def expect(response: requests.Response, status: int, what: str) -> bool:
        if response.status_code == status:
            return True
        with lock:
            errors.append(f"{what}: {response.status_code} {response.text[:200]}")
        return False

    def client(_: int) -> None:
        nonlocal audited
        session = requests.Session()
        session.headers.update(svc.auth)
        while time.monotonic() < stop_at:
            i = next(counter)
            try:
                image = unique_xray(sample, i)
                patient = session.post(f"{svc.base}/api/patients", json={"name": f"Load {i}", "mrn": f"L-{i}"},
                                       timeout=120)
                if not expect(patient, 201, "create patient"):
                    continue
                pid = patient.json()["id"]
                study = session.post(f"{svc.base}/api/studies", files={"image": (f"{i}.png", image, "image/png")},
                                     data={"patient_id": str(pid)}, timeout=120)
                ok = {"patients": 1}
                if expect(study, 201, "upload study"):
                    sid = study.json()["id"]
                    ok["studies"] = 1
                    if expect(session.get(f"{svc.base}/api/reports/{sid}", timeout=120), 200, "report"):
                        ok["reports"] = 1
                if expect(session.get(f"{svc.base}/api/studies?patient_id={pid}", timeout=120), 200, "list"):
                    ok["lists"] = 1
                if expect(session.post(f"{svc.base}/api/predict", files={"image": ("p.png", image, "image/png")},
                                       timeout=120), 200, "predict"):
                    ok["predicts"] = 1
            except requests.RequestException as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                done.update(ok)
                audited += sum(ok.values())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.monotonic() - started
    rows = {t: svc.count(t) for t in ("patients", "studies", "predictions", "reports", "audit_log")}
    expected = {"patients": done["patients"], "studies": done["studies"], "predictions": done["studies"],
                "reports": done["reports"], "audit_log": audit_before + audited}
    return {"requests": sum(done.values()), "seconds": wall, "errors": errors, "rows": rows, "expected": expected,
            "storage": svc.storage_problems()}


def _trickle(port: int, stop: threading.Event, outcomes: list[str]) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: bench\r\nContent-Type: multipart/form-data; "
                         b"boundary=b\r\nContent-Length: 200000\r\n\r\n")
            while not stop.is_set():
                sock.sendall(b"x")
                if stop.wait(2):
                    outcomes.append("still sending at the end")
                    return
                sock.settimeout(0.01)
                try:
                    answer = sock.recv(4096)
                    outcomes.append(answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "closed")
                    return
                except (TimeoutError, BlockingIOError):
                    sock.settimeout(60)
    except OSError as exc:
        outcomes.append(type(exc).__name__)


def slow_phase(svc: Service, clients: int, seconds: float) -> dict:
    stop, outcomes, waves = threading.Event(), [], 0
    threads: list[threading.Thread] = []
    latencies, failures = [], 0
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        alive = [t for t in threads if t.is_alive()]
        for _ in range(clients - len(alive)):  # keep `clients` slow connections open all the time
            t = threading.Thread(target=_trickle, args=(svc.port, stop, outcomes), daemon=True)
            t.start()
            alive.append(t)
            waves += 1
        threads = alive
        t0 = time.perf_counter()
        try:
            ok = requests.get(f"{svc.base}/api/health", timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.perf_counter() - t0)
        failures += not ok
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    return {"health_checks": len(latencies), "health_failed": failures,
            "health_p50_ms": statistics.median(latencies) * 1000, "health_max_ms": max(latencies) * 1000,
            "slow_connections": waves, "slow_outcomes": Counter(outcomes)}


def worker_kill_phase(svc: Service, uploads: int, sample: Path, kills: int = 2) -> dict:
    answers: Counter = Counter()
    before = svc.count("studies")

    def send(i: int) -> None:
        try:
            r = requests.post(f"{svc.base}/api/studies", headers=svc.auth, timeout=120,
                              files={"image": (f"k{i}.png", unique_xray(sample, 100_000 + i), "image/png")})
            answers[r.status_code] += 1
        except requests.RequestException as exc:
            answers[type(exc).__name__] += 1

    killed = []
    booted = svc.log_path.read_text(errors="replace").count("serving model")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(send, i) for i in range(uploads)]
        for k in range(kills):
            while sum(answers.values()) < (k + 1) * uploads // (kills + 1):
                time.sleep(0.05)
            victim = svc.workers_pids()[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            time.sleep(1)
        for f in futures:
            f.result()
    started = time.monotonic()
    while svc.log_path.read_text(errors="replace").count("serving model") < booted + kills:
        time.sleep(0.2)  # the replacements have loaded the model and swept the store
    recovered = time.monotonic() - started
    stored = svc.count("studies") - before
    return {"killed": killed, "answers": dict(answers), "stored": stored, "recovered_s": recovered,
            "storage": svc.storage_problems()}


def master_kill_phase(svc: Service) -> dict:
    master = svc.master_pid()
    probes: Counter = Counter()
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            try:
                probes[requests.get(f"{svc.base}/api/health", timeout=60).status_code] += 1
            except requests.ConnectionError:
                probes["connection error"] += 1
            except requests.Timeout:
                probes["timeout"] += 1
            time.sleep(0.2)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    time.sleep(1)
    killed_at = time.monotonic()
    os.kill(master, signal.SIGKILL)
    while True:
        try:
            if svc.master_pid() != master:
                break
        except ValueError:
            pass
        time.sleep(0.1)
    svc.wait_healthy()
    back = time.monotonic() - killed_at
    stop.set()
    prober.join(timeout=70)
    return {"old_master": master, "new_master": svc.master_pid(), "back_after_s": back, "probes": dict(probes)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=default_run())
    ap.add_argument("--sample", type=Path, default=default_sample())
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--load-seconds", type=float, default=120)
    ap.add_argument("--slow-clients", type=int, default=12)
    ap.add_argument("--slow-seconds", type=float, default=30)
    ap.add_argument("--uploads", type=int, default=40)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="pneumoscan-load-") as tmp:
        svc = Service(args.run, Path(tmp) / "data", workers=args.workers, threads=args.threads).start()
        try:
            print(f"service: {args.workers} workers x {args.threads} threads, run {args.run}", flush=True)
            load = load_phase(svc, args.clients, args.load_seconds, args.sample)
            print(f"\n1. load: {args.clients} clients x {load['seconds']:.0f} s: {load['requests']} requests "
                  f"({load['requests'] / load['seconds']:.1f}/s), {len(load['errors'])} errors")
            for error in load["errors"][:5]:
                print(f"   error: {error}")
            for table, rows in load["rows"].items():
                mark = "exact" if rows == load["expected"][table] else f"EXPECTED {load['expected'][table]}"
                print(f"   {table:12s} {rows:6d} rows  {mark}")
            print(f"   storage: {load['storage']}", flush=True)

            slow = slow_phase(svc, args.slow_clients, args.slow_seconds)
            print(f"\n2. slow clients: {args.slow_clients} open at all times for {args.slow_seconds:.0f} s "
                  f"({slow['slow_connections']} connections): health {slow['health_checks'] - slow['health_failed']}"
                  f"/{slow['health_checks']} answered, p50 {slow['health_p50_ms']:.0f} ms, max "
                  f"{slow['health_max_ms']:.0f} ms; slow clients got {dict(slow['slow_outcomes'])}", flush=True)

            kill = worker_kill_phase(svc, args.uploads, args.sample)
            print(f"\n3. kill -9 of a worker x{len(kill['killed'])} during {args.uploads} uploads: answers "
                  f"{kill['answers']}, {kill['stored']} studies stored; the replacements were up "
                  f"{kill['recovered_s']:.1f} s after the uploads ended (the other worker answered meanwhile); "
                  f"storage {kill['storage']}", flush=True)

            master = master_kill_phase(svc)
            print(f"\n4. kill -9 of the gunicorn master {master['old_master']}: new master {master['new_master']}, "
                  f"serving again {master['back_after_s']:.1f} s later; health probes meanwhile "
                  f"{master['probes']}", flush=True)
        finally:
            svc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
