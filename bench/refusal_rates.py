"""Refusal rates of the serving chain (DICOM tags -> pixel checks -> the checkpoint's feature gate).

False rejections: real chest X-rays that get a 422 instead of a prediction -- all of
``../shared/data/chest_xray/test`` (624, 224x224 re-encoded copies) and the 16 full-size ``val/``
originals, plus the real chest DICOMs (pydicom-data RG1 and ``../shared/data/dicom``).
Rejections: images that are not chest X-rays -- scikit-image's sample photographs (colour and
grayscale), pydicom's CT/MR/US/NM test files (as DICOM, and their pixels re-saved as PNG so that
only the pixels speak), an extremity radiograph, documents, blank images.

Every image goes through the same path as an upload: bytes -> ``decode_image`` -> ``Predictor.screen_batch``.

Usage:
    .venv/bin/python bench/refusal_rates.py [--run runs/default] [--data ../shared/data/chest_xray]
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from pneumoscan.data.decoding import ImageDecodeError, decode_image  # noqa: E402
from pneumoscan.serving.predictor import Prediction, Predictor  # noqa: E402


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def chest_sets(data: Path) -> dict[str, list[tuple[str, bytes]]]:
    sets: dict[str, list[tuple[str, bytes]]] = {}
    for split in ("test", "val"):
        files = sorted(p for p in (data / split).rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        if files:
            sets[f"chest_xray/{split} ({'full size' if split == 'val' else '224x224 copy'})"] = [
                (p.name, p.read_bytes()) for p in files
            ]
    dicoms = []
    from pydicom.data import get_testdata_file

    for name in ("RG1_UNCR.dcm", "RG1_J2KI.dcm"):
        dicoms.append((name, Path(get_testdata_file(name)).read_bytes()))
    shared_dicom = data.parent / "dicom"
    if shared_dicom.is_dir():
        dicoms += [(p.name, p.read_bytes()) for p in sorted(shared_dicom.glob("*.dcm")) if not p.name.startswith("RG1")]
    sets["chest DICOM (CR, PA)"] = dicoms
    return sets


def other_sets() -> dict[str, list[tuple[str, bytes]]]:
    from pydicom.data import get_testdata_file
    from skimage import data as sk

    colour, gray = [], []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
                 "colorwheel", "logo"):
        arr = getattr(sk, name)()
        colour.append((name, png(Image.fromarray(arr))))
    for name in ("camera", "moon", "text", "page", "coins", "brick", "grass", "gravel", "clock", "cell",
                 "microaneurysms", "checkerboard", "horse", "binary_blobs", "shepp_logan_phantom"):
        arr = np.asarray(getattr(sk, name)())
        if arr.dtype != np.uint8:  # boolean masks and float phantoms -> 0..255
            arr = arr.astype(np.float64)
            arr = (255 * (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-9)).astype(np.uint8)
        gray.append((name, png(Image.fromarray(arr))))
    motorcycle = sk.stereo_motorcycle()[0]
    colour.append(("stereo_motorcycle", png(Image.fromarray(motorcycle))))

    dicom_names = ("CT_small.dcm", "MR_small.dcm", "MR_small_jp2klossless.dcm", "emri_small.dcm",
                   "MR-SIEMENS-DICOM-WithOverlays.dcm", "JPEG2000.dcm", "US1_J2KR.dcm", "SC_rgb.dcm", "RG3_UNCR.dcm")
    as_dicom, as_png = [], []
    for name in dicom_names:
        path = get_testdata_file(name)
        if path is None:
            continue
        raw = Path(path).read_bytes()
        as_dicom.append((name, raw))
        try:
            as_png.append((name.replace(".dcm", ".png"), png(decode_image(raw).image)))
        except ImageDecodeError:
            pass

    docs = []
    for i in range(3):
        page = Image.new("L", (600, 800), 245 - 5 * i)
        draw = ImageDraw.Draw(page)
        for line in range(35):
            draw.text((30, 20 + 21 * line), f"Discharge letter {i}: findings, medication and follow-up, line {line}",
                      fill=20)
        docs.append((f"letter{i}", png(page)))
    blanks = [("black", png(Image.new("L", (512, 512), 0))), ("white", png(Image.new("L", (512, 512), 255))),
              ("gray", png(Image.new("L", (512, 512), 127)))]
    return {
        "colour photographs (scikit-image)": colour,
        "grayscale photographs/scans (scikit-image)": gray,
        "CT/MR/US/NM/SC/extremity DICOM (pydicom)": as_dicom,
        "the same DICOM pixels re-saved as PNG": as_png,
        "documents (rendered text)": docs,
        "blank images": blanks,
    }


def like_training_copy(decoded, size: int, quality: int):
    """Squash to ``size`` x ``size`` and re-encode as JPEG ``quality``: what produced the training copy.

    An experiment only (``--emulate-training-copy``): if it helps, the step belongs in the checkpoint's
    ``Preprocessing`` so that training and serving both apply it, never in serving alone.
    """
    import dataclasses

    image = decoded.image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return dataclasses.replace(decoded, image=Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def screen(
    predictor: Predictor, items: list[tuple[str, bytes]], batch: int = 16, emulate: tuple[int, int] | None = None
) -> tuple[Counter, list]:
    """Reasons for each item ('accepted' for a prediction, 'decode:<code>' for an unreadable file)."""
    outcomes: Counter = Counter()
    rows = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        decoded, names = [], []
        for name, data in chunk:
            try:
                d = decode_image(data)
                if emulate is not None and predictor.check(d.image, d.dicom) is None:
                    d = like_training_copy(d, *emulate)
                decoded.append(d)
                names.append(name)
            except ImageDecodeError as exc:
                outcomes[f"decode:{exc.code}"] += 1
                rows.append((name, f"decode:{exc.code}", None))
        for name, result in zip(names, predictor.screen_batch(decoded)):
            key = "accepted" if isinstance(result, Prediction) else result.reason
            outcomes[key] += 1
            dist = result.ood_distance if isinstance(result, Prediction) else (result.detail or {}).get("distance")
            rows.append((name, key, dist))
    return outcomes, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "default")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "chest_xray")
    parser.add_argument("--verbose", action="store_true", help="list every refused chest X-ray")
    parser.add_argument("--emulate-training-copy", type=int, nargs=2, metavar=("SIZE", "QUALITY"),
                        help="experiment: squash to SIZE and JPEG-re-encode at QUALITY before the model "
                        "(as the shared training copy was made: 224 75)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (args.run / "checkpoint.pt").is_file():
        print(f"No checkpoint in {args.run}: train one (make train-default) or pass --run RUN_DIR.", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"No chest X-ray data at {args.data}: pass --data (the real-data measurement needs it).", file=sys.stderr)
        return 2
    predictor = Predictor.from_run(args.run)
    gate = predictor.gate
    print(f"run {args.run}  model {predictor.model_version}")
    if args.emulate_training_copy:
        size, quality = args.emulate_training_copy
        print(f"EXPERIMENT: every image that passes the cheap checks is squashed to {size}x{size} and JPEG-re-encoded "
              f"at quality {quality} before the model (not what the server does)")
    if gate is None:
        print("feature gate: none in this checkpoint (only the dedicated checks refuse)")
    else:
        print(f"feature gate: Mahalanobis, threshold {gate.threshold:.2f} "
              f"(quantile {gate.quantile} of the validation distances)")
    print()
    print(f"{'set':<46} {'n':>4} {'refused':>8} {'rate':>7}  reasons")
    started = time.perf_counter()
    for title, sets, is_chest in (("REAL CHEST X-RAYS (false rejections)", chest_sets(args.data), True),
                                  ("NOT CHEST X-RAYS (rejections)", other_sets(), False)):
        print(title)
        total_n = total_refused = 0
        for name, items in sets.items():
            outcomes, rows = screen(predictor, items, emulate=args.emulate_training_copy)
            n = sum(outcomes.values())
            refused = n - outcomes.get("accepted", 0)
            total_n += n
            total_refused += refused
            reasons = ", ".join(f"{k} {v}" for k, v in outcomes.most_common() if k != "accepted")
            print(f"  {name:<44} {n:>4} {refused:>8} {refused / max(n, 1):>7.1%}  {reasons}")
            if is_chest:
                dists = np.array([d for _, k, d in rows if d is not None], dtype=float)
                if len(dists):
                    q = np.quantile(dists, [0.5, 0.95, 1.0])
                    print(f"  {'':<44} gate distance p50 {q[0]:.1f}  p95 {q[1]:.1f}  max {q[2]:.1f}")
            if (args.verbose and is_chest) or (not is_chest):
                for item, key, dist in rows:
                    if (key != "accepted") == is_chest:
                        shown = f"{dist:.1f}" if dist is not None else "-"
                        print(f"      {'refused' if is_chest else 'ACCEPTED'}: {item} ({key}, distance {shown})")
        print(f"  {'total':<44} {total_n:>4} {total_refused:>8} {total_refused / max(total_n, 1):>7.1%}")
        print()
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
