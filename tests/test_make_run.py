"""A fresh clone's `make run` starts the whole system and serves the shipped model.

The clone gets its own virtual environment whose site-packages also see this checkout's (a .pth
line), so `make run`'s real set-up step runs (pip finds torch and the rest already satisfied and
installs the clone itself) without downloading gigabytes, and this checkout's venv is never
touched. The built web app is copied in, newer than its sources, so it is not rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "person1946_bacteria_4874.jpeg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_run_in_a_fresh_clone_serves_the_shipped_model(tmp_path):
    if not (REPO / "runs" / "default" / "checkpoint.pt").is_file():
        pytest.fail("runs/default/checkpoint.pt is missing: the shipped model must be committed")
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to clone from")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    if (REPO / "web" / "out" / "index.html").is_file():
        shutil.copytree(REPO / "web" / "out", clone / "web" / "out")  # newer than the sources: no rebuild
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    ask = [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    site = Path(subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip())
    (site / "_pneumoscan_test_base.pth").write_text(sysconfig.get_path("purelib") + "\n")
    port = _free_port()
    env = {**os.environ, "PNEUMOSCAN_PORT": str(port), "PNEUMOSCAN_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        ["make", "run", f"VENV={venv}"], cwd=clone, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make run exited early:\n{proc.stdout.read()[-3000:]}")
            try:
                if requests.get(f"{base}/api/health", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(1)
        else:
            pytest.fail("the server did not answer /api/health within 240 s")
        with SAMPLE.open("rb") as f:
            answer = requests.post(f"{base}/api/predict", files={"image": (SAMPLE.name, f, "image/jpeg")}, timeout=60)
        assert answer.status_code == 200, answer.text
        api = answer.json()
        cli = subprocess.run(
            [str(REPO / ".venv" / "bin" / "pneumoscan"), "predict", str(clone / "runs" / "default"), str(SAMPLE),
             "--json"], capture_output=True, text=True, check=True,
        )
        expected = json.loads(cli.stdout)
        assert api["label"] == expected["label"]
        assert api["probability"] == pytest.approx(expected["probability"], abs=1e-4)
        assert api["threshold"] == pytest.approx(expected["threshold"])
        assert (tmp_path / "data" / "pneumoscan.db").exists()
        if (clone / "web" / "out" / "index.html").is_file():
            assert "PneumoScan" in requests.get(base + "/", timeout=10).text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("make run did not stop on Ctrl-C within 30 s")
