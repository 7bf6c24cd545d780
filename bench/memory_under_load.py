"""Worker memory (RSS) of the real service over a long load: does it level off, or keep growing (a leak)?

    .venv/bin/python bench/memory_under_load.py [--minutes 10] [--clients 4] [--workers 2]
        [--interval 10] [--malloc-arena-max N]

Each client loops: upload a study (a distinct image), fetch its PDF report, predict without storing.
Every ``--interval`` seconds the resident memory of every gunicorn worker is sampled. Printed: RSS per
worker over time, growth in the first and the second half of the run (MB per minute), and a verdict:
memory that levels off (second-half growth well under the first half's) is allocator and cache
warm-up; steady growth to the end is a leak. ``--malloc-arena-max`` sets glibc's MALLOC_ARENA_MAX for
the server, to see how much of the growth is glibc giving each request thread its own malloc arena.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
from service_harness import Service, default_run, default_sample, unique_xray

MB = 1024 * 1024


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            out.append(psutil.Process(pid).memory_info().rss / MB)
        except psutil.Error:
            out.append(float("nan"))
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute of (seconds, MB) points."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(m for _, m in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (m - my) for t, m in points) / var if var else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=default_run())
    ap.add_argument("--sample", type=Path, default=default_sample())
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--malloc-arena-max", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else {}
    with tempfile.TemporaryDirectory(prefix="pneumoscan-mem-") as tmp:
        svc = Service(args.run, Path(tmp) / "data", workers=args.workers, threads=args.threads,
                      env_extra=env).start()
        try:
            pids = svc.workers_pids()
            stop = threading.Event()
            counter, done, errors = itertools.count(), [0], [0]

            def client() -> None:
                session = requests.Session()
                session.headers.update(svc.auth)
                while not stop.is_set():
                    i = next(counter)
                    image = unique_xray(args.sample, i)
                    try:
                        study = session.post(f"{svc.base}/api/studies", timeout=120,
                                             files={"image": (f"{i}.png", image, "image/png")})
                        ok = study.status_code == 201
                        if ok:
                            ok = session.get(f"{svc.base}/api/reports/{study.json()['id']}.pdf",
                                             timeout=120).status_code == 200
                        ok = ok and session.post(f"{svc.base}/api/predict", timeout=120,
                                                 files={"image": ("p.png", image, "image/png")}).status_code == 200
                    except requests.RequestException:
                        ok = False
                    done[0] += 3
                    errors[0] += not ok

            threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
            started = time.monotonic()
            samples = [(0.0, rss_mb(pids))]
            print(f"{args.workers} workers x {args.threads} threads, {args.clients} clients, {args.minutes:g} min, "
                  f"MALLOC_ARENA_MAX={args.malloc_arena_max or 'unset'}; RSS MB per worker at start: "
                  + ", ".join(f"{m:.0f}" for m in samples[0][1]), flush=True)
            for t in threads:
                t.start()
            end = started + args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(args.interval, max(0.0, end - time.monotonic())))
                elapsed = time.monotonic() - started
                samples.append((elapsed, rss_mb(pids)))
                print(f"  {elapsed / 60:5.1f} min  {done[0]:6d} requests  RSS MB: "
                      + ", ".join(f"{m:.0f}" for m in samples[-1][1]), flush=True)
            stop.set()
            for t in threads:
                t.join(timeout=130)
        finally:
            svc.stop()
    warm = args.minutes * 60 * 0.2  # the first fifth: model, allocator and font caches warm up
    middle = warm + (args.minutes * 60 - warm) / 2
    print(f"\n{done[0]} requests ({done[0] / (args.minutes * 60):.1f}/s), {errors[0]} client loops with an error")
    for w, pid in enumerate(pids):
        series = [(t, mbs[w]) for t, mbs in samples]
        early = slope([p for p in series if warm <= p[0] <= middle])
        late = slope([p for p in series if p[0] >= middle])
        start_mb, end_mb, peak = series[0][1], series[-1][1], max(m for _, m in series)
        at_warm = next(m for t, m in series if t >= warm)
        levels_off = late < 2.0 or late < 0.5 * early
        print(f"worker {pid}: {start_mb:.0f} MB idle, {at_warm:.0f} MB after warm-up, {end_mb:.0f} MB at the end "
              f"(peak {peak:.0f}); after warm-up {early:+.1f} then {late:+.1f} MB/min: "
              + ("levelling off" if levels_off else "still growing") + " (a leak shows as steady growth over a "
              "long run: use --minutes 10 or more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
