"""``pneumoscan data|train|evaluate|predict|export|serve``: the command line.

Errors that a user can fix (bad data, bad settings, missing weights) print one clear message and
exit with status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

log = logging.getLogger("pneumoscan")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def cmd_data_check(args: argparse.Namespace) -> int:
    from pneumoscan.data.layout import check_dataset

    report = check_dataset(args.dir, verify_images=not args.quick)
    print(f"Dataset {report.root}")
    for split, counts in report.counts.items():
        total = sum(counts.values())
        print(f"  {split:<5} " + "  ".join(f"{c}: {n}" for c, n in counts.items()) + f"  (total {total})")
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"{len(report.problems)} problem(s):", file=sys.stderr)
        for p in report.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("OK: no problems found.")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pneumoscan.config import load_config
    from pneumoscan.training.run import train_run

    overrides = {
        "model.backbone": args.backbone, "model.weights": args.weights, "model.unfreeze_last": args.unfreeze_last,
        "train.epochs": args.epochs, "data.batch_size": args.batch_size, "data.image_size": args.image_size,
        "train.device": args.device, "data.num_workers": args.workers, "train.seed": args.seed,
    }
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE (e.g. train.lr=0.01), got {item!r}.")
        overrides[key] = value
    cfg = load_config(args.config, overrides)
    command = "pneumoscan " + " ".join(shlex.quote(a) for a in args.argv)
    train_run(cfg, args.data, args.out, progress=not args.no_progress, command=command)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pneumoscan.device import select_device
    from pneumoscan.training.run import evaluate_run

    m = evaluate_run(args.run_dir, args.data, args.split, device=select_device(args.device),
                     progress=not args.no_progress, n_boot=args.bootstrap)
    if args.json:
        print(json.dumps(m, indent=2, default=float))
        return 0
    print(f"{args.split}: n={m['n']} threshold={m['threshold']:.4f}")
    for k in ("accuracy", "auc", "sensitivity", "specificity", "precision", "f1"):
        v = m[k]
        print(f"  {k:<12} {v['value']:.4f}  (95% CI {v['ci_low']:.4f}-{v['ci_high']:.4f})")
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    print(f"  confusion    TN {tn}  FP {fp}  FN {fn}  TP {tp}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from pneumoscan.data.decoding import ImageDecodeError, decode_image
    from pneumoscan.serving.predictor import Predictor

    predictor = Predictor.from_run(args.run_dir)
    status = 0
    for path in args.images:
        try:
            decoded = decode_image(Path(path).read_bytes())
            pred = predictor.predict(decoded.image)
        except (OSError, ImageDecodeError) as exc:
            status = 1
            msg = getattr(exc, "message", str(exc))
            print(json.dumps({"path": path, "error": msg}) if args.json else f"{path}\terror: {msg}")
            continue
        if args.json:
            print(json.dumps({"path": path, **pred.to_dict()}))
        else:
            print(f"{path}\t{pred.label}\t{pred.probability:.4f}")
    return status


def cmd_export(args: argparse.Namespace) -> int:
    import shutil

    from pneumoscan.models.checkpoint import load_checkpoint, save_checkpoint

    src, dst = Path(args.run_dir), Path(args.out)
    if dst.exists():
        raise ValueError(f"{dst} already exists; choose a new folder for the exported run.")
    model, meta = load_checkpoint(src)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoint.pt", "train_state.pt"))
    save_checkpoint(dst / "checkpoint.pt", model, meta, half=args.half)
    card_path = dst / "model_card.json"
    if card_path.exists():
        card = json.loads(card_path.read_text())
        card["export"] = {"from": src.name, "weights_dtype": "float16" if args.half else "float32",
                          "note": "re-measure with `pneumoscan evaluate` after exporting"}
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    size = (dst / "checkpoint.pt").stat().st_size / 2**20
    print(f"exported {src} -> {dst} ({size:.1f} MiB checkpoint); re-measure it with `pneumoscan evaluate {dst} ...`")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pneumoscan.api.server import serve

    return serve(args.run_dir, host=args.host, port=args.port, workers=args.workers, threads=args.threads,
                 supervise=not args.no_supervise, listen_fd=args.listen_fd)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database (``DATABASE_URL``); with ``--grant ROLE`` also give the app's role its rights."""
    from pneumoscan.api.audit import grant_app_role
    from pneumoscan.api.settings import Settings
    from pneumoscan.api.storage import Database

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        db.upgrade(lock_dir=settings.data_dir)
        if args.grant:
            grant_app_role(db.engine, args.grant)
    finally:
        db.dispose()
    print("database at the newest schema" + (f"; role {args.grant} may use it (audit tables append-only)"
                                             if args.grant else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pneumoscan", description="Chest X-ray pneumonia screening support.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True)
    check = data.add_parser("check", help="list every problem in a dataset folder and the class counts")
    check.add_argument("dir", type=Path)
    check.add_argument("--quick", action="store_true", help="do not open every image")
    check.set_defaults(func=cmd_data_check)

    train = sub.add_parser("train", help="train a model and write a run folder")
    train.add_argument("--config", type=Path, help="YAML preset (configs/*.yaml)")
    train.add_argument("--data", type=Path, required=True, help="folder with train/ val/ test/, or a .npz")
    train.add_argument("--out", type=Path, required=True, help="run folder to write")
    train.add_argument("--backbone")
    train.add_argument("--weights", help="imagenet | none | PATH to a .pth")
    train.add_argument("--unfreeze-last", type=int, help="fine-tune the backbone's last N blocks (0 = frozen)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--image-size", type=int)
    train.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    train.add_argument("--workers", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. train.lr=0.01")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="re-measure a run on a split; rewrites metrics and figures")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("--split", default="test")
    ev.add_argument("--device", default="auto")
    ev.add_argument("--bootstrap", type=int, default=1000)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict images with a run folder's model")
    pr.add_argument("run_dir", type=Path)
    pr.add_argument("images", nargs="+")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)

    ex = sub.add_parser("export", help="copy a run folder, optionally with float16 weights (half the size)")
    ex.add_argument("run_dir", type=Path)
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--half", action="store_true")
    ex.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="serve the API and web app with gunicorn")
    sv.add_argument("run_dir", type=Path)
    sv.add_argument("--host", default=None, help="default PNEUMOSCAN_HOST or 127.0.0.1 (this machine only)")
    sv.add_argument("--port", type=int, default=None, help="default PNEUMOSCAN_PORT or 8000")
    sv.add_argument("--workers", type=int, default=None, help="gunicorn workers, each with its own model (default 1)")
    sv.add_argument("--threads", type=int, default=8, help="request threads per worker (default 8)")
    sv.add_argument("--no-supervise", action="store_true",
                    help="run gunicorn in this process (no restart when its master dies; systemd restarts it)")
    sv.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)  # the supervisor's socket
    sv.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate to the newest schema (run as the schema owner on PostgreSQL)")
    up.add_argument("--grant", metavar="ROLE",
                    help="PostgreSQL: give ROLE, the role the server connects as, only what it needs")
    up.set_defaults(func=cmd_db_upgrade)

    from pneumoscan.users_cli import add_parser as add_users_parser

    add_users_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    _setup_logging(args.verbose)
    from pneumoscan.data.layout import DatasetError
    from pneumoscan.models.registry import WeightsUnavailableError

    try:
        return args.func(args)
    except (DatasetError, WeightsUnavailableError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (a training run resumes from its train_state.pt)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
