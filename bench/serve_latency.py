"""Latency and throughput of POST /api/predict, beside the paper's serving path, in one run.

    .venv/bin/python bench/serve_latency.py [--run RUN_DIR] [--requests N] [--workers W]

Ours: ``pneumoscan serve RUN`` (gunicorn, gthread), the full request path: multipart upload ->
content-sniffed decode -> refusal checks -> checkpoint's eval transform -> model -> JSON. The run is
``runs/default`` when it exists (else ``--run``, else a tiny run trained here on synthetic images).

The paper's path, rebuilt for comparison: a Flask endpoint that opens the upload with PIL, applies
``Resize(224)`` + ``ToTensor`` + ImageNet normalisation and runs torchvision's VGG16 in eager fp32
(random weights: its ImageNet weights cannot be downloaded here; the cost is the same), served by
the same gunicorn settings. Same image, same client, same machine, measured in the same run.

Prints p50/p95 latency and throughput at 1, 2 and 4 concurrent clients for both, plus the
in-process model time per image (no HTTP) to separate model cost from serving overhead.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 2, 4)


# ------------------------------------------------------------------ the paper's serving path (baseline)


def paper_app():
    """The seed paper's Flask server, minus its bug's consequences: VGG16, Resize 224, argmax.

    Served by gunicorn as ``serve_latency:paper_app()``.
    """
    import torch
    from flask import Flask, jsonify, request
    from PIL import Image
    from torchvision import models
    from torchvision import transforms as T

    app = Flask("paper")
    model = models.vgg16(weights=None).eval()  # the paper loaded ImageNet weights; same compute
    transform = T.Compose([T.Resize(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    @app.post("/predict")
    def predict():
        image = Image.open(io.BytesIO(request.files["file"].read())).convert("RGB")
        with torch.no_grad():
            out = model(transform(image).unsqueeze(0))
        label = int(out.argmax(1))
        return jsonify({"prediction": "pneumonia" if label == 1 else "normal"})

    return app


# ------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not start:\n{log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(url: str, field: str, image: bytes, name: str, clients: int, per_client: int) -> dict:
    """``clients`` threads, each sending ``per_client`` requests back to back on its own session."""
    import requests

    def client(_: int) -> list[float]:
        session = requests.Session()
        times = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            r = session.post(url, files={field: (name, image)}, timeout=300)
            times.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = [t for ts in pool.map(client, range(clients)) for t in ts]
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))] * 1000,
        "throughput": len(latencies) / wall,
        "n": len(latencies),
    }


def tiny_run(tmp: Path) -> Path:
    """Train a tiny run on synthetic images with the real CLI (no runs/default here)."""
    sys.path.insert(0, str(REPO / "tests"))
    from synthetic import write_dataset

    data = write_dataset(tmp / "synthetic", {"train": 24, "val": 6, "test": 6})
    out = tmp / "tiny-run"
    cmd = [sys.executable, "-m", "pneumoscan", "train", "--data", str(data), "--out", str(out),
           "--backbone", "efficientnet_lite0", "--weights", "imagenet", "--epochs", "3", "--batch-size", "8",
           "--device", "cpu", "--workers", "0", "--no-progress", "--set", "data.augment=false",
           "--set", "data.min_val_size=8", "--set", "eval.bootstrap=100"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def pick_image(run: Path) -> tuple[str, bytes]:
    """The first sample X-ray the run accepts (a real one for a real model; synthetic for a tiny run)."""
    from pneumoscan.data.decoding import decode_image
    from pneumoscan.serving.predictor import Predictor

    predictor = Predictor.from_run(run)
    candidates = [(p.name, p.read_bytes()) for p in sorted((REPO / "samples").glob("*.jpeg"))]
    sys.path.insert(0, str(REPO / "tests"))
    import numpy as np

    from synthetic import make_xray

    buf = io.BytesIO()
    make_xray(np.random.default_rng(0), True, 96, 96).save(buf, format="PNG")
    candidates.append(("synthetic.png", buf.getvalue()))
    for name, data in candidates:
        try:
            predictor.screen(decode_image(data))
            return name, data
        except ValueError:
            continue
    raise RuntimeError("the run refuses every candidate image")


def in_process_ms(image: bytes, run: Path, repeats: int = 10) -> tuple[float, float]:
    """Median ms per image, no HTTP: ours (decode + screen) and the paper's (PIL + Resize 224 + VGG16)."""
    import torch
    from PIL import Image
    from torchvision import models
    from torchvision import transforms as T

    from pneumoscan.data.decoding import decode_image
    from pneumoscan.serving.predictor import Predictor

    predictor = Predictor.from_run(run)
    vgg = models.vgg16(weights=None).eval()
    tf = T.Compose([T.Resize(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def ours() -> None:
        predictor.screen(decode_image(image))

    def paper() -> None:
        with torch.no_grad():
            vgg(tf(Image.open(io.BytesIO(image)).convert("RGB")).unsqueeze(0))

    out = []
    for fn in (ours, paper):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out.append(statistics.median(times) * 1000)
    return out[0], out[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=None, help="run folder (default runs/default, else a tiny run)")
    ap.add_argument("--requests", type=int, default=12, help="requests per client at each concurrency")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers for both servers")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="pneumoscan-bench-"))
    run = args.run or (REPO / "runs" / "default")
    origin = str(run)
    if not (run / "checkpoint.pt").is_file():
        if args.run is not None:
            print(f"No checkpoint in {run}.", file=sys.stderr)
            return 2
        print("runs/default does not exist: training a tiny run on synthetic images ...", flush=True)
        run = tiny_run(tmp)
        origin = "tiny run trained now on synthetic images (runs/default absent)"
    name, image = pick_image(run)

    import torch

    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, torch threads {torch.get_num_threads()}")
    print(f"model: {origin}")
    print(f"image: {name} ({len(image)} bytes); {args.requests} requests per client; "
          f"gunicorn gthread, {args.workers} worker(s) x 4 threads for both servers")
    ours_ms, paper_ms = in_process_ms(image, run)
    print(f"in-process, one image, no HTTP: ours {ours_ms:.1f} ms   paper (VGG16, Resize 224) {paper_ms:.1f} ms   "
          f"ratio {paper_ms / ours_ms:.1f}x")
    print()

    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(tmp / "data"), "PNEUMOSCAN_WEB_DIR": str(tmp / "no-web")}
    env.pop("DATABASE_URL", None)
    servers = {
        "ours  POST /api/predict": (
            [sys.executable, "-m", "pneumoscan", "serve", str(run), "--workers", str(args.workers)],
            "/api/predict", "image", "/api/health"),
        "paper VGG16 /predict": (
            [sys.executable, "-m", "gunicorn", "--chdir", str(REPO / "bench"), "-k", "gthread", "--threads", "4",
             "-w", str(args.workers), "serve_latency:paper_app()"],
            "/predict", "file", "/predict"),
    }
    results: dict[str, dict[int, dict]] = {}
    for label, (cmd, path, field, ready) in servers.items():
        port = free_port()
        full = [*cmd, "--port", str(port)] if "pneumoscan" in cmd else [*cmd, "-b", f"127.0.0.1:{port}"]
        log = tmp / f"{path.strip('/').replace('/', '_')}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(full, stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + ready, proc, log)
            measure(base + path, field, image, name, 1, 3)  # warm-up
            results[label] = {c: measure(base + path, field, image, name, c, args.requests) for c in CONCURRENCY}
        finally:
            stop(proc)

    print(f"{'server':<26} {'clients':>7} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>8}")
    for label, by_c in results.items():
        for c, m in by_c.items():
            print(f"{label:<26} {c:>7} {m['p50']:>9.1f} {m['p95']:>9.1f} {m['throughput']:>8.2f}")
    print()
    ours, paper = results["ours  POST /api/predict"], results["paper VGG16 /predict"]
    for c in CONCURRENCY:
        print(f"{c} client(s): ours/paper p50 latency {ours[c]['p50'] / paper[c]['p50']:.2f}x, "
              f"throughput {ours[c]['throughput'] / paper[c]['throughput']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
