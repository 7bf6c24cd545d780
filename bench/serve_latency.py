"""Serving speed of POST /api/predict, beside the paper's serving path and the hardware floor, in one run.

    .venv/bin/python bench/serve_latency.py [--run RUN_DIR] [--requests N] [--repeats R] [--compile]

Everything is measured in ONE run on the same machine, so that ratios compare like with like; on a
shared machine the absolute times move with the load (printed), the ratios much less.

1. The backbone's forward pass (batch 1) per runtime, side by side: eager PyTorch, channels-last
   (oneDNN), ``torch.compile`` (with ``--compile``: minutes of compiling) and ONNX Runtime, beside
   its FLOP floor = FLOPs (``torch.utils.flop_counter``) / the sgemm rate measured here, for the
   shipped model and for VGG16 (the paper's; random weights unless
   ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth`` exists: the compute is the same).
2. Same answers: |Δp| between ONNX Runtime and eager PyTorch on the committed samples and on the
   624 test images (when ``../shared/data/chest_xray`` exists); and the |Δp| that JPEG draft-mode
   decoding (Pillow ``Image.draft``) would cost, on the samples, the 16 full-size ``val`` images
   and the test images, which decides whether serving may use it.
3. Per-stage times of one request in-process: decode, preprocess, checks, forward, heatmap,
   encode, and HTTP (the 1-client p50 minus the in-process total).
4. p50/p95 and throughput of POST /api/predict at 1, 2, 4 and 8 clients: the shipped model without
   and with ``?heatmap=1``, VGG16 served by the same code (``pneumoscan serve`` of a VGG16 run), and
   the paper's own path (Flask + PIL ``Resize(224)`` + torchvision VGG16 in eager fp32), all under
   gunicorn with the same settings; then the issue's goals as ratios from this run.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
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
SHARED = REPO.parent / "shared" / "data" / "chest_xray"
CONCURRENCY = (1, 2, 4, 8)
IMAGE = REPO / "samples" / "NORMAL2-IM-1437-0001.jpeg"  # 1,240 x 1,104, the image
OUR_THREADS = 10
"""``pneumoscan serve --threads``: 2 of them never read upload bodies (``api.slow_clients``), so 10
lets 8 clients upload at once instead of being answered 503 busy; the paper's server keeps 4."""


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


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def forward_flops(module, size: int = 224) -> float:
    """FLOPs (multiply and add counted separately) of one forward pass at batch 1."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        module(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
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
            r = session.post(url, files={field: (name, image)}, timeout=600)
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


def vgg16_weights() -> str:
    """torchvision's VGG16 ImageNet file when it is on this machine, else random weights ("none")."""
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth"
    return str(path) if path.is_file() else "none"


def vgg16_run(tmp: Path, like: Path) -> Path:
    """A VGG16 run folder (the paper's architecture and head) with ``like``'s preprocessing and threshold."""
    from pneumoscan.models.checkpoint import load_checkpoint, save_checkpoint
    from pneumoscan.models.registry import build_model

    _, meta = load_checkpoint(like)
    weights = vgg16_weights()
    model = build_model("vgg16", weights=weights)
    keep = ("class_names", "preprocessing", "threshold", "threshold_rule", "intended_population")
    vgg_meta = {k: meta[k] for k in keep if k in meta}
    vgg_meta.update(backbone="vgg16", dropout=0.0, model_version="vgg16-bench", ood=None, population_check=None,
                    weights_origin="ImageNet" if weights != "none" else "random (no ImageNet file here)")
    out = tmp / "vgg16-run"
    save_checkpoint(out / "checkpoint.pt", model, vgg_meta)
    return out


def sample_files() -> list[Path]:
    return sorted((REPO / "samples").glob("*.jpeg")) + sorted((REPO / "samples").glob("*.dcm"))


def probabilities(predictor, paths: list[Path], draft: int | None = None, batch: int = 16) -> list[float]:
    """P(pneumonia) for files, decoded as served (or, with ``draft``, JPEGs decoded in draft mode)."""
    from PIL import Image

    from pneumoscan.data.decoding import decode_image

    out: list[float] = []
    for start in range(0, len(paths), batch):
        images = []
        for path in paths[start : start + batch]:
            data = path.read_bytes()
            image = decode_image(data).image
            if draft and data[:3] == b"\xff\xd8\xff":
                with Image.open(io.BytesIO(data)) as im:
                    im.draft(im.mode, (draft, draft))  # scale 1/2, 1/4 or 1/8 while both sides stay >= draft
                    im.load()
                    image = im.convert("L") if image.mode == "L" else im.convert("RGB")
            images.append(image)
        out += predictor.probabilities(images)
    return out


def compare(a: list[float], b: list[float], threshold: float) -> str:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    flips = int(((a >= threshold) != (b >= threshold)).sum())
    return f"max |Δp| {np.abs(a - b).max():.2e}, mean {np.abs(a - b).mean():.2e}, label flips {flips}/{len(a)}"


# --------------------------------------------------------------------------------------------- parts


def runtimes_side_by_side(models: dict, repeats: int, with_compile: bool) -> dict[str, dict]:
    """Forward ms (batch 1) per runtime and model, beside the FLOP floor; returns the ONNX figures.

    Rounds interleave one sgemm sample and one pass of every runtime, so that all of them see the
    same load; the floor uses the best sgemm rate and the ratio the best pass (medians printed too).
    """
    import numpy as np
    import torch

    from pneumoscan.serving.runtime import OnnxRuntime, ServingGraph, TorchRuntime

    x = torch.randn(1, 3, 224, 224)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    threads = torch.get_num_threads()
    best: dict[str, dict] = {}
    print(f"{'model':<20} {'runtime':<26} {'best ms':>8} {'median':>8} {'x floor':>8} {'max|Δ logit|':>13}")
    for name, model in models.items():
        flops = forward_flops(ServingGraph(model).eval())
        eager = TorchRuntime(model)
        reference = eager.run(x).logits
        entries = [(f"eager PyTorch, {threads} threads", eager, threads), ("eager PyTorch, 1 thread", eager, 1),
                   ("channels-last (oneDNN)", TorchRuntime(model, channels_last=True), threads)]
        if with_compile:
            graph = torch.compile(ServingGraph(model).eval())
            t0 = time.perf_counter()
            with torch.inference_mode():
                graph(x)
            print(f"{name:<20} {'torch.compile':<26} (compiled in {time.perf_counter() - t0:.0f} s)")
            entries.append(("torch.compile", _CompiledRunner(graph), threads))
        entries.append((f"ONNX Runtime, {threads} threads", OnnxRuntime(model), threads))
        diffs = {label: float(np.abs(r.run(x).logits - reference).max()) for label, r, _ in entries}
        times: dict[str, list[float]] = {label: [] for label, _, _ in entries}
        rates: list[float] = []
        for _ in range(repeats):
            for mm in (lambda: torch.mm(a, b), lambda: np.matmul(a.numpy(), b.numpy())):
                t0 = time.perf_counter()
                mm()
                rates.append(2 * 1024**3 / (time.perf_counter() - t0) / 1e9)
            for label, runner, n in entries:
                torch.set_num_threads(n)
                t0 = time.perf_counter()
                runner.run(x)
                times[label].append((time.perf_counter() - t0) * 1000)
                torch.set_num_threads(threads)
        floor = flops / (max(rates) * 1e9) * 1000
        print(f"{name:<20} {'FLOP floor':<26} {floor:>8.1f} {'':>8} {1:>8.2f} {'':>13}   ({flops / 1e9:.2f} GFLOP "
              f"/ best sgemm {max(rates):.0f} GFLOP/s, median {statistics.median(rates):.0f})")
        for label, _, _ in entries:
            fast, mid = min(times[label]), statistics.median(times[label])
            print(f"{name:<20} {label:<26} {fast:>8.1f} {mid:>8.1f} {fast / floor:>8.2f} {diffs[label]:>13.1e}")
            if label.startswith("ONNX"):
                best[name] = {"ms": fast, "median": mid, "floor": floor}
        del entries
    return best


class _CompiledRunner:
    """``torch.compile`` of the serving graph, with the runtime's ``run`` interface."""

    def __init__(self, graph):
        self.graph = graph

    def run(self, batch):
        import torch

        from pneumoscan.serving.runtime import Outputs

        with torch.inference_mode():
            outs = self.graph(batch)
        return Outputs(*(o.float().numpy() for o in outs))


def same_answers(run: Path, data: Path) -> None:
    """|Δp| of ONNX Runtime vs eager PyTorch, and of JPEG draft-mode decoding vs full decoding."""
    import torch

    from pneumoscan.serving.predictor import Predictor

    fast, eager = Predictor.from_run(run, runtime="onnx"), Predictor.from_run(run, runtime="torch")
    samples = sample_files()
    sets = {"committed samples": samples}
    if data.is_dir():
        sets["full-size val (16)"] = sorted((data / "val").glob("*/*.jpeg"))
        sets["test (624)"] = sorted((data / "test").glob("*/*.jpeg"))
    else:
        print(f"({data} absent: the committed samples only)")
    t = fast.threshold
    served = {label: probabilities(fast, paths) for label, paths in sets.items()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same numbers, without the thread pool's stalls on a busy machine
    for label, paths in sets.items():
        if not label.startswith("full-size"):
            print(f"ONNX Runtime vs eager, {label}: {compare(served[label], probabilities(eager, paths), t)}")
    torch.set_num_threads(threads)
    for label, paths in sets.items():
        full = served[label]
        for side in (224, 448):
            print(f"draft decode >= {side} px vs full decode, {label}: "
                  f"{compare(probabilities(fast, paths, draft=side), full, t)}")
    print("(test images are 224 px already: draft mode cannot shrink them, so it changes nothing there;"
          " the samples and full-size val images decide)")


def stages(run: Path, image: bytes, repeats: int) -> dict[str, float]:
    """Median ms of each stage of one request, in-process."""
    from PIL import Image

    from pneumoscan.data.decoding import decode_image
    from pneumoscan.serving.heatmap import class_activation_maps, overlay_png
    from pneumoscan.serving.predictor import Predictor

    p = Predictor.from_run(run)
    decoded = decode_image(image)
    batch = p.preprocess([decoded.image])
    out = p.runtime.run(batch)
    label = int(out.logits.argmax(1)[0])
    cam = class_activation_maps(out.last, p.cam_weights, [label], (224, 224))
    overlay = Image.open(io.BytesIO(overlay_png(decoded.image, cam[0], p.preprocessing)))
    overlay.load()

    def checks() -> None:
        p.check(decoded.image, decoded.dicom)
        if p.gate is not None:
            p.gate.distance(out.features)

    def encode_png() -> bytes:
        buf = io.BytesIO()
        overlay.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    png = encode_png()
    body = {"label": "NORMAL", "probability": 0.1, "threshold": 0.5, "model_version": "x"}
    s = {
        "decode": median_ms(lambda: decode_image(image), repeats),
        "preprocess": median_ms(lambda: p.preprocess([decoded.image]), repeats),
        "checks (pixels, gate)": median_ms(checks, repeats),
        "forward": median_ms(lambda: p.runtime.run(batch), repeats),
        "answer (probability, JSON)": median_ms(lambda: json.dumps(body), repeats),
        "heatmap (CAM + overlay)": median_ms(lambda: overlay_png(decoded.image, class_activation_maps(
            out.last, p.cam_weights, [label], (224, 224))[0], p.preprocessing), repeats),
        "encode (PNG + base64)": median_ms(lambda: base64.b64encode(encode_png()), repeats),
        "screen (all, plain)": median_ms(lambda: p.screen(decode_image(image)), repeats),
        "screen (all, heatmap)": median_ms(lambda: p.screen(decode_image(image), heatmap=True), repeats),
    }
    s["heatmap (CAM + overlay)"] -= s["encode (PNG + base64)"]  # overlay_png includes the PNG encode
    print(f"overlay {overlay.size[0]}x{overlay.size[1]} px, PNG {len(png) / 1024:.0f} KiB; decoded image "
          f"{decoded.width}x{decoded.height}; CAM: {'yes' if p.cam_weights is not None else 'no (Grad-CAM)'}")
    return s


def http(run: Path, vgg_run: Path, image: bytes, name: str, per_client: int, workers: int, tmp: Path) -> dict:
    """p50/p95/throughput per server and concurrency."""
    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(tmp / "data"), "PNEUMOSCAN_WEB_DIR": str(tmp / "no-web")}
    env.pop("DATABASE_URL", None)
    servers = {
        "PneumoScan": ([sys.executable, "-m", "pneumoscan", "serve", str(run), "--workers", str(workers),
                        "--threads", str(OUR_THREADS)],
                       {"plain": "/api/predict", "heatmap": "/api/predict?heatmap=1"}, "image", "/api/health"),
        "VGG16, PneumoScan's serving": (
            [sys.executable, "-m", "pneumoscan", "serve", str(vgg_run), "--workers", str(workers),
             "--threads", str(OUR_THREADS)],
            {"plain": "/api/predict"}, "image", "/api/health"),
        "paper (VGG16 eager, Flask)": (
            [sys.executable, "-m", "gunicorn", "--chdir", str(REPO / "bench"), "-k", "gthread", "--threads", "4",
             "-w", str(workers), "serve_latency:paper_app()"],
            {"plain": "/predict"}, "file", "/predict"),
    }
    results: dict[str, dict[int, dict]] = {}
    for label, (cmd, paths, field, ready) in servers.items():
        port = free_port()
        full = [*cmd, "--port", str(port)] if "pneumoscan" in cmd else [*cmd, "-b", f"127.0.0.1:{port}"]
        log = tmp / f"{label.split()[0]}-{port}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(full, stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + ready, proc, log)
            for path in paths.values():
                measure(base + path, field, image, name, 1, 2)  # warm-up
            for c in CONCURRENCY:
                for kind, path in paths.items():  # plain and heatmap alternate at each concurrency
                    results.setdefault(f"{label} {kind}", {})[c] = measure(base + path, field, image, name, c,
                                                                          per_client)
        finally:
            stop(proc)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=None, help="run folder (default runs/default, else a tiny run)")
    ap.add_argument("--requests", type=int, default=6, help="requests per client at each concurrency")
    ap.add_argument("--repeats", type=int, default=10, help="repetitions of each in-process timing")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers for every server")
    ap.add_argument("--data", type=Path, default=SHARED, help="the Kermany chest_xray folder (for |Δp| checks)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    ap.add_argument("--skip-http", action="store_true", help="in-process parts only")
    args = ap.parse_args(argv)

    import torch

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
    image, name = IMAGE.read_bytes(), IMAGE.name
    vgg_run = vgg16_run(tmp, run)

    from pneumoscan.models.checkpoint import load_checkpoint

    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print("Absolute times move with the machine's load; compare the ratios, all measured in this run.")
    print(f"model: {origin}; VGG16 weights: {vgg16_weights()}; image: {name} ({len(image)} bytes)")
    print()

    print("== 1. backbone forward pass per runtime (batch 1, one pass with features, block means, logits, "
          "last activations)")
    models = {"shipped " + load_checkpoint(run)[1]["backbone"]: load_checkpoint(run)[0],
              "VGG16 (paper)": load_checkpoint(vgg_run)[0]}
    forward = runtimes_side_by_side(models, args.repeats, args.compile)
    del models

    print("\n== 2. same answers")
    same_answers(run, args.data)

    print("\n== 3. one request, stage by stage (in-process, median ms)")
    st = stages(run, image, args.repeats)
    for k, v in st.items():
        print(f"  {k:<28} {v:8.1f}")

    if args.skip_http:
        return 0
    print(f"\n== 4. POST over HTTP: gunicorn gthread, {args.workers} worker(s) x {OUR_THREADS} threads for "
          f"pneumoscan serve (8 may read uploads at once), x 4 for the paper's; {args.requests} requests per client")
    results = http(run, vgg_run, image, name, args.requests, args.workers, tmp)
    print(f"{'server':<42} {'clients':>7} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>8}")
    for label, by_c in results.items():
        for c, m in by_c.items():
            print(f"{label:<42} {c:>7} {m['p50']:>9.1f} {m['p95']:>9.1f} {m['throughput']:>8.2f}")
    ours, heat = results["PneumoScan plain"], results["PneumoScan heatmap"]
    vgg, paper = results["VGG16, PneumoScan's serving plain"], results["paper (VGG16 eager, Flask) plain"]
    print()
    for c in CONCURRENCY:
        print(f"{c} client(s): paper/ours p50 {paper[c]['p50'] / ours[c]['p50']:.1f}x, "
              f"heatmap/plain p50 {heat[c]['p50'] / ours[c]['p50']:.2f}x, "
              f"paper/VGG16-ours p50 {paper[c]['p50'] / vgg[c]['p50']:.2f}x, "
              f"throughput ours/paper {ours[c]['throughput'] / paper[c]['throughput']:.1f}x")
    http_ms = ours[1]["p50"] - st["screen (all, plain)"]
    print(f"HTTP and server overhead at 1 client: {http_ms:.1f} ms (p50 over HTTP minus in-process screen)")

    eff = next(v for k, v in forward.items() if k.startswith("shipped"))
    vgg_fw = forward["VGG16 (paper)"]
    goals = [
        ("p50 plain answer vs paper's path (1 client)", f"{paper[1]['p50'] / ours[1]['p50']:.1f}x faster", ">= 10x"),
        ("answer with heatmap / plain answer (p50, 1 client)", f"{heat[1]['p50'] / ours[1]['p50']:.2f}x", "<= 1.25x"),
        ("shipped backbone forward / FLOP floor (best)", f"{eff['ms'] / eff['floor']:.2f}x", "<= 2x"),
        ("VGG16 forward / FLOP floor (best)", f"{vgg_fw['ms'] / vgg_fw['floor']:.2f}x",
         "<= 1.5x"),
        ("throughput at 8 clients vs paper's path", f"{ours[8]['throughput'] / paper[8]['throughput']:.1f}x",
         ">= 10x"),
    ]
    print("\n== goals (issue 14), ratios from this run")
    for what, got, goal in goals:
        print(f"  {what:<52} {got:>12}   goal {goal}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
