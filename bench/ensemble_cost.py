"""An ensemble's cost per image as a ratio to the single model, measured in ONE process.

    .venv/bin/python bench/ensemble_cost.py ENSEMBLE_RUN [--single runs/default] [--rounds 30]

Both run folders are loaded as the server loads them (``Predictor.from_run``, default runtime:
ONNX Runtime), then one client screens the committed ``samples/`` images one at a time (decode ->
checks -> one forward pass -> refusal checks, and the heatmap PNG when asked), alternating the two
models image by image so that the machine's load falls on both alike. Printed: median and p95 ms
per image for each model, without and with the heatmap, and the ratios. On a shared machine the
absolute times move with the load; the ratios much less.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from pneumoscan.data.decoding import decode_image
from pneumoscan.serving.predictor import Predictor

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ensemble", type=Path)
    ap.add_argument("--single", type=Path, default=REPO / "runs" / "default")
    ap.add_argument("--rounds", type=int, default=30, help="passes over the sample images")
    ap.add_argument("--threads", type=int, default=1, help="cores each model's runtime gets")
    args = ap.parse_args()
    torch.set_num_threads(1)
    predictors = {"single": Predictor.from_run(args.single), "ensemble": Predictor.from_run(args.ensemble)}
    for p in predictors.values():
        p.use_cores(args.threads)
        p.warm_up()
    blobs = [f.read_bytes() for f in sorted((REPO / "samples").glob("*.jpeg"))]
    times: dict[tuple[str, bool], list[float]] = {(k, h): [] for k in predictors for h in (False, True)}
    for _ in range(args.rounds):
        for blob in blobs:
            for heatmap in (False, True):
                for name, predictor in predictors.items():
                    t0 = time.perf_counter()
                    predictor.screen_batch([decode_image(blob)], heatmap=heatmap)
                    times[(name, heatmap)].append(time.perf_counter() - t0)
    ens = predictors["ensemble"]
    print(f"{len(blobs)} sample images x {args.rounds} rounds, 1 client, {args.threads} core(s) per runtime "
          f"({type(ens.runtime).__name__}); ensemble: {', '.join(ens.model.names)}")
    print(f"{'':<22} {'single ms p50 / p95':>22} {'ensemble ms p50 / p95':>24} {'ratio p50':>10}")
    for heatmap in (False, True):
        s, e = times[("single", heatmap)], times[("ensemble", heatmap)]
        q = lambda xs: (1000 * statistics.median(xs), 1000 * statistics.quantiles(xs, n=20)[-1])  # noqa: E731
        (s50, s95), (e50, e95) = q(s), q(e)
        label = "with heatmap" if heatmap else "without heatmap"
        print(f"{label:<22} {s50:>10.1f} / {s95:<10.1f} {e50:>11.1f} / {e95:<11.1f} {e50 / s50:>9.2f}x")


if __name__ == "__main__":
    main()
