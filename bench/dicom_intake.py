"""Instances received and screened per second over DICOM C-STORE, against the upload path, in one run.

    .venv/bin/python bench/dicom_intake.py [--run RUN_DIR] [--burst 100] [--senders 1 4]

One PneumoScan application (``runs/default`` unless ``--run``) serves both paths at once, on the
same database, image store and model:

- C-STORE: the DICOM receiver (pynetdicom SCP) on a free port; a burst of ``--burst`` chest X-ray
  instances (the committed Kermany samples wrapped as DICOM, a 4-year-old, each with its own
  SOPInstanceUID) sent by ``--senders`` associations at once, each instance stored with its prediction,
  heatmap and audit row before the SCP answers.
- Upload: the same number of the same files, each with a fresh SOPInstanceUID, POSTed as multipart to
  ``/api/studies`` over HTTP (werkzeug's threaded server, as many clients as senders), the path the
  web app takes.

Prints instances per second for each and the ratio C-STORE / upload. Timings only; nothing asserted.
"""

from __future__ import annotations

import argparse
import io
import logging
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
SAMPLES = sorted((REPO / "samples").glob("*.jpeg"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _instances(n: int) -> list[bytes]:
    """``n`` distinct DICOM files (own SOPInstanceUID each) of the Kermany samples, a 4-year-old."""
    from PIL import Image

    from dicom_files import dicom_bytes

    images = [Image.open(p).convert("L") for p in SAMPLES]
    return [dicom_bytes(images[i % len(images)], patient_id=f"BENCH-{i % 7}", patient_age="004Y") for i in range(n)]


def _timed_burst(send, items: list, senders: int, what: str) -> float:
    """Seconds for ``senders`` threads to send their share of ``items`` (``send(chunk)`` -> how many stored)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        stored = sum(pool.map(send, [items[i::senders] for i in range(senders)]))
    elapsed = time.perf_counter() - start
    assert stored == len(items), f"only {stored} of {len(items)} {what} were stored"
    return elapsed


def c_store_burst(port: int, files: list[bytes], senders: int) -> float:
    """Seconds to C-STORE every file over ``senders`` associations at once (all must succeed)."""
    from pydicom import dcmread
    from pynetdicom import AE

    datasets = [dcmread(io.BytesIO(f)) for f in files]

    def send(chunk) -> int:
        ae = AE(ae_title="BENCH")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.1.1")
        ae.dimse_timeout = ae.network_timeout = 600
        assoc = ae.associate("127.0.0.1", port, ae_title="PNEUMOSCAN")
        assert assoc.is_established, "the receiver refused the association"
        ok = sum(int(assoc.send_c_store(ds).Status) == 0 for ds in chunk)
        assoc.release()
        return ok

    return _timed_burst(send, datasets, senders, "instances")


def upload_burst(base: str, token: str, files: list[bytes], senders: int) -> float:
    """Seconds to POST every file to /api/studies with ``senders`` clients at once (all 201)."""
    import requests

    def send(chunk) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {token}"
            return sum(s.post(f"{base}/api/studies", files={"image": ("x.dcm", f)}, timeout=600).status_code == 201
                       for f in chunk)

    return _timed_burst(send, files, senders, "uploads")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "default")
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("werkzeug", "pneumoscan", "pynetdicom"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from werkzeug.serving import make_server

    from pneumoscan.api import create_app
    from pneumoscan.api.accounts import create_token, create_user
    from pneumoscan.api.hospital.receiver import DicomReceiver
    from pneumoscan.api.hospital.sender import hospital_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-dicom-"))
    app = create_app({"RUN_DIR": args.run, "DATA_DIR": tmp / "data", "WEB_DIR": tmp / "no-web",
                      "DICOM_PORT": _free_port(), "DICOM_ALLOWED_AETS": ["BENCH"]})
    with app.extensions["pneumoscan"].db.session() as session:
        user, _ = create_user(session, "bench", "clinician", "bench password 123")
        session.flush()
        _, token = create_token(session, user, "bench")
    receiver = DicomReceiver(app, hospital_settings(app)).start()
    http = make_server("127.0.0.1", _free_port(), app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_port}"

    print(f"model: {app.extensions['predictor'].model_version}; burst of {args.burst} DICOM chest X-rays "
          f"({', '.join(p.name for p in SAMPLES)}), each stored with prediction, heatmap and audit row")
    c_store_burst(receiver.port, _instances(4), 1)  # warm-up: first forward passes, caches
    upload_burst(base, token, _instances(4), 1)
    print(f"{'senders':>8} {'C-STORE /s':>11} {'upload /s':>10} {'C-STORE / upload':>17}")
    for senders in args.senders:
        dicom_s = c_store_burst(receiver.port, _instances(args.burst), senders)
        upload_s = upload_burst(base, token, _instances(args.burst), senders)
        print(f"{senders:>8} {args.burst / dicom_s:>11.2f} {args.burst / upload_s:>10.2f} "
              f"{upload_s / dicom_s:>16.2f}x")
    receiver.stop()
    http.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
