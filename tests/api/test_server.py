"""The real server: `pneumoscan serve` (gunicorn) in a subprocess on a free loopback port, hit from
several threads at once. Every answer must be right and every stored study present afterwards."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from pneumoscan.data.decoding import decode_image

from .api_helpers import png_bytes, xray

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run, tmp_path_factory):
    """`python -m pneumoscan serve RUN --port P --workers 2` until the module's tests are done."""
    data_dir = tmp_path_factory.mktemp("server-data")
    port = _free_port()
    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(data_dir), "PNEUMOSCAN_WEB_DIR": str(data_dir / "no-web"),
           "PNEUMOSCAN_MAX_UPLOAD_MB": "4"}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "pneumoscan", "users"]
    subprocess.run([*cli, "create", "load-tester", "--role", "clinician"], env=env, check=True, capture_output=True)
    token = subprocess.run([*cli, "token", "load-tester"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pneumoscan", "serve", str(tiny_run), "--port", str(port), "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # start-up wait, not a timing assertion
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{(data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if requests.get(f"{base}/api/health", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{(data_dir / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield {"base": base, "data_dir": data_dir, "proc": proc, "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_server_listens_on_loopback_and_serves_the_run(server, predictor):
    health = requests.get(f"{server['base']}/api/health", timeout=10).json()
    assert health["model_version"] == predictor.model_version
    openapi = requests.get(f"{server['base']}/api/openapi.json", timeout=10)
    assert openapi.status_code == 200 and "/api/studies" in openapi.json()["paths"]


def test_concurrent_uploads_from_many_threads_are_all_right_and_all_stored(server, predictor):
    base = server["base"]
    auth = server["auth"]
    patient = requests.post(f"{base}/api/patients", json={"name": "Concurrent", "mrn": "C-1"}, headers=auth,
                            timeout=30).json()
    images = {seed: png_bytes(xray(seed, seed % 2 == 1)) for seed in range(8)}
    expected = {seed: predictor.predict(decode_image(data).image) for seed, data in images.items()}
    jobs = [(i, i % 8, "studies" if i % 2 == 0 else "predict") for i in range(24)]

    def send(job):
        i, seed, kind = job
        files = {"image": (f"x{i}.png", images[seed], "image/png")}
        if kind == "studies":
            return job, requests.post(f"{base}/api/studies", files=files, data={"patient_id": str(patient["id"])},
                                      headers=auth, timeout=120)
        return job, requests.post(f"{base}/api/predict", files=files, timeout=120)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, jobs))

    stored = []
    for (i, seed, kind), response in results:
        assert response.status_code == (201 if kind == "studies" else 200), response.text
        body = response.json()
        pred = body["prediction"] if kind == "studies" else body
        assert pred["label"] == expected[seed].label, (i, seed)
        assert pred["probability"] == pytest.approx(expected[seed].probability, abs=1e-5)
        if kind == "studies":
            stored.append(body["id"])

    assert len(set(stored)) == 12
    with sqlite3.connect(Path(server["data_dir"]) / "pneumoscan.db") as db:
        ids = {row[0] for row in db.execute("SELECT id FROM studies WHERE patient_id = ?", (patient["id"],))}
        assert ids == set(stored)
        assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] >= 12
    for sid in stored:
        assert requests.get(f"{base}/api/studies/{sid}/image", headers=auth, timeout=30).status_code == 200
    listed = requests.get(f"{base}/api/patients/{patient['id']}", headers=auth, timeout=30).json()
    assert {s["id"] for s in listed["studies"]} == set(stored)


def test_the_real_server_answers_bad_input_with_json(server):
    base = server["base"]
    empty = requests.post(f"{base}/api/predict", files={"image": ("x.png", b"", "image/png")}, timeout=30)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_file"
    text = requests.post(f"{base}/api/studies", files={"image": ("x.png", b"not an image" * 10)},
                         headers=server["auth"], timeout=30)
    assert text.status_code == 415 and text.json()["error"]["code"] == "unsupported_media_type"
    big = requests.post(f"{base}/api/predict", files={"image": ("x.png", bytes(5 * 1024 * 1024))}, timeout=60)
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    wrong = requests.delete(f"{base}/api/health", timeout=30)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_the_server_logs_one_line_per_request(server):
    requests.get(f"{server['base']}/api/health", headers={"X-Request-ID": "log-line-check"}, timeout=10)
    time.sleep(0.5)  # let the worker flush its log line (not a timing assertion)
    log = (Path(server["data_dir"]) / "server.log").read_text()
    lines = [line for line in log.splitlines() if "id=log-line-check" in line]
    assert len(lines) == 1 and '"GET /api/health" 200' in lines[0]
