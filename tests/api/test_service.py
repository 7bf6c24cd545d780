"""The real service under abuse: slow clients cannot silence it, a killed worker leaves nothing half
stored, a killed gunicorn master comes back by itself, and the systemd unit is valid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from pneumoscan.data.decoding import decode_image

from .api_helpers import png_bytes, xray

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds  # a start-up wait, not a timing assertion
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/api/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    pytest.fail(f"server did not answer:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def service(tiny_run, tmp_path_factory):
    """`pneumoscan serve` (supervised) with 1 worker x 4 threads: 2 may read bodies, 2 stay free."""
    data_dir = tmp_path_factory.mktemp("service-data")
    port = _free_port()
    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(data_dir), "PNEUMOSCAN_WEB_DIR": str(data_dir / "no-web")}
    env.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "pneumoscan", "users"]
    subprocess.run([*cli, "create", "svc", "--role", "clinician"], env=env, check=True, capture_output=True)
    token = subprocess.run([*cli, "token", "svc"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pneumoscan", "serve", str(tiny_run), "--port", str(port),
                             "--workers", "1", "--threads", "4"], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log_path)
        yield {"base": base, "port": port, "proc": proc, "data_dir": data_dir, "log": log_path,
               "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _trickle(port: int, stop: threading.Event, answers: list[bytes]) -> None:
    """A client that declares a 200 kB upload and sends one byte every 2 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 200000\r\n\r\n")
        try:
            while not stop.is_set():
                sock.sendall(b"x")
                if stop.wait(2):
                    break
                sock.settimeout(0.01)
                try:
                    answers.append(sock.recv(4096))
                    return  # the server answered (408 or 503) and closed
                except (TimeoutError, BlockingIOError):
                    pass
                finally:
                    sock.settimeout(60)
        except OSError:
            answers.append(b"closed")


def test_slow_clients_cannot_silence_the_health_check(service):
    stop, answers = threading.Event(), []
    clients = [threading.Thread(target=_trickle, args=(service["port"], stop, answers)) for _ in range(12)]
    for c in clients:
        c.start()
    try:
        time.sleep(1)  # let them all connect
        health = []
        for _ in range(10):
            health.append(requests.get(f"{service['base']}/api/health", timeout=15).status_code)
            time.sleep(0.5)
        assert health == [200] * 10
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=30)
    codes = [a.split(b" ")[1] for a in answers if a.startswith(b"HTTP/1.1")]
    assert set(codes) <= {b"408", b"503"} and codes.count(b"503") >= 10  # refused at once, beyond the 2 readers


def test_a_chunked_upload_is_read_whole_and_answered(service, predictor):
    image = png_bytes(xray(3, True))
    body = (b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\nContent-Type: image/png'
            b"\r\n\r\n" + image + b"\r\n--b--\r\n")
    answer = requests.post(f"{service['base']}/api/predict", data=iter([body[:700], body[700:]]),  # chunked
                           headers={"Content-Type": "multipart/form-data; boundary=b"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == predictor.predict(decode_image(image).image).label


def _worker_pids(proc: subprocess.Popen) -> tuple[int, list[int]]:
    (master,) = psutil.Process(proc.pid).children()
    return master.pid, [w.pid for w in master.children()]


def test_a_worker_killed_during_uploads_leaves_nothing_half_stored(service):
    base, auth, data_dir = service["base"], service["auth"], service["data_dir"]
    images = [png_bytes(xray(seed, seed % 2 == 0)) for seed in range(20, 44)]

    def send(data: bytes):
        try:
            return requests.post(f"{base}/api/studies", files={"image": ("x.png", data, "image/png")}, headers=auth,
                                 timeout=120).status_code
        except requests.RequestException:
            return "cut"

    _, workers = _worker_pids(service["proc"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(send, data) for data in images]
        time.sleep(1.5)
        os.kill(workers[0], signal.SIGKILL)
        results = [f.result() for f in futures]
    _wait_healthy(base, service["proc"], service["log"])
    requests.get(f"{base}/api/health", timeout=10)
    with sqlite3.connect(data_dir / "pneumoscan.db") as db:
        rows = db.execute("SELECT s.id, s.image_path, s.display_path, p.heatmap_path FROM studies s "
                          "LEFT JOIN predictions p ON p.study_id = s.id").fetchall()
    named = {path for row in rows for path in row[1:] if path}
    on_disk = {p.relative_to(data_dir).as_posix() for folder in ("images", "heatmaps")
               for p in (data_dir / folder).rglob("*") if p.is_file()}
    assert all(row[3] for row in rows)  # every study has its prediction and heatmap
    assert named <= on_disk  # every row's files exist
    assert on_disk <= named  # and no file is left without a row (swept when the new worker started)
    answered, lost = results.count(201), len(results) - results.count(201)
    assert answered <= len(rows) <= answered + lost  # an upload may commit just before its answer is lost


def test_the_service_comes_back_after_its_master_is_killed(service):
    master, _ = _worker_pids(service["proc"])
    os.kill(master, signal.SIGKILL)
    deadline = time.monotonic() + 240  # a restart wait, not a timing assertion
    new_master, workers = master, []
    while time.monotonic() < deadline and (new_master == master or not workers):
        time.sleep(0.5)
        children = psutil.Process(service["proc"].pid).children()
        if len(children) == 1 and children[0].status() != psutil.STATUS_ZOMBIE:
            new_master, workers = children[0].pid, [w.pid for w in children[0].children()]
    assert new_master != master and workers
    _wait_healthy(service["base"], service["proc"], service["log"], seconds=240)
    assert "starting a new one" in service["log"].read_text()


def test_the_systemd_unit_is_valid():
    unit = REPO / "deploy" / "pneumoscan.service"
    text = unit.read_text()
    assert "Restart=always" in text and "ExecStart=" in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # verify resolves ExecStart's binary; point it at this venv's pneumoscan and a throw-away user-free copy
    exe = Path(sys.executable).with_name("pneumoscan")
    if not exe.exists():
        pytest.skip(f"{exe} is missing (install the package)")
    copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"pneumoscan-verify-{os.getpid()}.service"
    copy.write_text(text.replace("/opt/pneumoscan/.venv/bin/pneumoscan", str(exe)))
    try:
        result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    finally:
        copy.unlink()
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if copy.name in line or "pneumoscan" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
