"""``pneumoscan data|train|evaluate|predict|export|population-check|subtype-head|serve|openapi|validate|
calibrate``: the command line.

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
    config = args.config
    if args.init_from is not None and config is None and (Path(args.init_from) / "config.yaml").is_file():
        config = Path(args.init_from) / "config.yaml"  # the parent's backbone and preprocessing
    cfg = load_config(config, overrides)
    command = "pneumoscan " + " ".join(shlex.quote(a) for a in args.argv)
    if cfg.ensemble.members:
        from pneumoscan.training.ensemble import train_ensemble_run

        if args.init_from is not None:
            raise ValueError("--init-from does not apply to an ensemble "
                             "(its members start from their ImageNet weights).")
        train_ensemble_run(cfg, args.data, args.out, progress=not args.no_progress, command=command)
        return 0
    train_run(cfg, args.data, args.out, progress=not args.no_progress, command=command, init_from=args.init_from)
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
            # a fourth column only under a pneumonia answer of a run with a subtype head
            pattern = f"\t{pred.subtype['wording']}" if pred.subtype else ""
            print(f"{path}\t{pred.label}\t{pred.probability:.4f}{pattern}")
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


def cmd_population_check(args: argparse.Namespace) -> int:
    from pneumoscan.config import load_config
    from pneumoscan.training.population import fit_population_check
    from pneumoscan.training.run import intended_population

    check = fit_population_check(
        args.run_dir, args.data, args.outside, args.out or args.run_dir,
        sources=[s for s in (args.sources or "").split(",") if s],
        licence_prefix=args.licence_prefix,
        max_inside=args.max_inside,
        refused_inside=args.refused_inside,
        c=args.c,
        held_out=[s for s in (args.held_out or "").split(",") if s],
        population=intended_population(load_config(args.config)) if args.config else None,
        progress=not args.no_progress,
    )
    print(f"population check: threshold {check.threshold:.4f}, fitted on {', '.join(check.fitted_on)}; "
          f"written to {args.out or args.run_dir}")
    return 0


def cmd_subtype_head(args: argparse.Namespace) -> int:
    from pneumoscan.training.subtype import fit_subtype_head

    head = fit_subtype_head(
        args.run_dir, args.data, args.out or args.run_dir,
        features=[s for s in args.features.split(",") if s],
        cs=[float(c) for c in args.c.split(",") if c],
        n_boot=args.bootstrap,
        cache=args.cache,
        progress=not args.no_progress,
    )
    test = head.metrics.get("test")
    shown = ", ".join(f"{k} {test[k]['value']:.3f} [{test[k]['ci_low']:.3f}, {test[k]['ci_high']:.3f}]"
                      for k in ("auc", "accuracy", "sensitivity", "specificity")) if test else "no test images"
    print(f"subtype head ({head.features}, C={head.c:g}, threshold {head.threshold:.4f}; positive class viral): "
          f"test {shown}; written to {args.out or args.run_dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pneumoscan.api.server import serve

    return serve(args.run_dir, host=args.host, port=args.port, workers=args.workers, threads=args.threads,
                 supervise=not args.no_supervise, listen_fd=args.listen_fd)


def openapi_text(run_dir: Path) -> str:
    """The API's OpenAPI document as the server serves it, as indented JSON text (no server started).

    The app is built on ``run_dir``'s model with a throw-away data folder and SQLite database, so
    that no setting of this machine (``DATABASE_URL``, ``PNEUMOSCAN_*``) reaches the document.
    """
    import tempfile

    from flask import url_for

    from pneumoscan.api import create_app

    with tempfile.TemporaryDirectory(prefix="pneumoscan-openapi-") as tmp:
        data_dir = Path(tmp) / "data"
        app = create_app({"TESTING": True, "RUN_DIR": run_dir, "DATA_DIR": data_dir, "WEB_DIR": Path(tmp) / "no-web",
                          "DATABASE_URL": f"sqlite:///{data_dir / 'openapi.db'}"})
        with app.test_request_context():
            url = url_for("meta.openapi")
        response = app.test_client().get(url)
        if response.status_code != 200:
            raise ValueError(f"GET {url} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
        document = response.get_json()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (the web app's types are generated from it: ``make api-types``)."""
    text = openapi_text(args.run_dir)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log.info("OpenAPI document written to %s", args.out)
    return 0


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


# ------------------------------------------------------------- a site's own images: validate, calibrate


def _site_predictor(run_dir: Path, raw: bool = False, device: str = "cpu"):
    """The run's ``Predictor``; ``raw`` drops a recalibration fitted earlier (calibrate starts from scratch)."""
    from pneumoscan.models.checkpoint import load_checkpoint
    from pneumoscan.serving.predictor import Predictor

    if not raw:
        return Predictor.from_run(run_dir, device=device)
    model, meta = load_checkpoint(run_dir, map_location=device)
    return Predictor(model, {**meta, "recalibration": None}, device, run_dir=run_dir)


def _fmt(m: dict | None) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    if m.get("ci_low") is None:
        return f"{m['value']:.3f}"
    return f"{m['value']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"


def cmd_validate(args: argparse.Namespace) -> int:
    from pneumoscan.evaluation.validation import default_source_name, source_slug, validate
    from pneumoscan.models.checkpoint import checkpoint_sha256
    from pneumoscan.models.recalibration import operating_point

    predictor = _site_predictor(args.run_dir, device=args.device)
    name = source_slug(args.source_name or args.source or default_source_name(args.data))
    out = args.out if args.out is not None else Path(args.run_dir) / "validation" / name
    run_info = {"path": Path(args.run_dir).name, "model_version": predictor.model_version,
                "model_id": f"sha256:{checkpoint_sha256(args.run_dir)}",
                "operating_point": operating_point(predictor.meta)["label"]}
    r = validate(predictor, args.data, out, source=args.source, source_name=name, run_info=run_info,
                 progress=not args.no_progress, n_boot=args.bootstrap, batch_size=args.batch_size,
                 use_ages=not args.ignore_ages)
    refused = ", ".join(f"{k} {v}" for k, v in r["refused"].items()) or "none"
    print(f"{r['source']}: {r['n']} images, {r['answered']} answered, refused: {refused}")
    for label, c in r["by_class"].items():
        share = c["called_pneumonia_share"]
        print(f"  {label:<14} n={c['n']:<5} answered {c['answered']:<5} called pneumonia "
              f"{'n/a' if share is None else f'{share:.1%}'}")
    for k in ("auc", "sensitivity", "specificity", "ppv", "npv", "brier"):
        m = r["metrics"][k]
        print(f"  {k:<12} {_fmt(m) if m else 'null: ' + r['null_reasons'].get(k, '')}")
    print(f"report: {out / 'summary.html'}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from pneumoscan.evaluation.calibration import calibrate_run

    predictor = _site_predictor(args.run_dir, raw=True, device=args.device)
    record = calibrate_run(predictor, args.run_dir, args.data, args.out, args.min_sensitivity, args.threshold,
                           args.recalibrate, site=args.site_name, source=args.source,
                           progress=not args.no_progress, n_boot=args.bootstrap)
    m = record["in_sample"]
    print(f"calibrated {args.run_dir} -> {args.out} for site {record['site']} "
          f"(NORMAL {record['n_per_class']['NORMAL']}, PNEUMONIA {record['n_per_class']['PNEUMONIA']})")
    print(f"  threshold {record['threshold']:.4f} (was {record['original_threshold']:.4f}); "
          f"recalibration {record['recalibration']}")
    print(f"  on the same images (optimistic): sensitivity {_fmt(m['sensitivity'])}, "
          f"specificity {_fmt(m['specificity'])}")
    print(f"  measure it on other images: pneumoscan validate {args.out} --data OTHER_DIR --attach")
    return 0


def cmd_calibrate_crossfit(args: argparse.Namespace) -> int:
    import csv

    from pneumoscan.evaluation.calibration import crossfit_report

    data = Path(args.data)
    if args.split and (data / args.split).is_dir():
        data = data / args.split
    predictor = _site_predictor(args.run_dir, raw=True, device=args.device)
    summary, rows = crossfit_report(predictor, data, args.folds, args.min_sensitivity, args.threshold,
                                    args.recalibrate, source=args.source, progress=not args.no_progress,
                                    n_boot=args.bootstrap, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crossfit.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    with (args.out / "crossfit_images.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{data}: {summary['n_images']} images, {summary['refused']} refused, {summary['answered_labelled']} "
          f"answered ({summary['patients']} patients), {summary['folds']} folds grouped by patient")
    print("  fold thresholds " + ", ".join(f"{t:.4f}" for t in summary["fold_thresholds"]))
    for name in ("zero_shot", "cross_fitted"):
        row = summary[name]
        print(f"  {name:<13}" + "  ".join(f"{k} {_fmt(row[k])}" for k in ("accuracy", "auc", "sensitivity",
                                                                            "specificity")))
    return 0


def _rule_args(p: argparse.ArgumentParser, required: bool) -> None:
    rule = p.add_mutually_exclusive_group(required=required)
    rule.add_argument("--min-sensitivity", type=float, help="highest threshold reaching this sensitivity")
    rule.add_argument("--threshold", type=float, help="a fixed threshold (on the recalibrated scale)")
    p.add_argument("--recalibrate", choices=("none", "platt", "isotonic"), default="none")


def _site_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path)
    p.add_argument("--data", type=Path, required=True,
                   help="folder with NORMAL/ PNEUMONIA/ (other subfolders: other labels), or a CSV manifest "
                        "file,label[,age,sex,view] (also DIR/manifest.csv)")
    p.add_argument("--source", help="only the manifest rows with this value in its 'source' column")
    p.add_argument("--device", default="cpu")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--no-progress", action="store_true")


def add_site_parsers(sub) -> None:
    """``validate``, ``calibrate`` and ``calibrate-crossfit``: a run on a site's own labelled images."""
    va = sub.add_parser("validate", help="external-validation report of a run on labelled images")
    _site_args(va)
    where = va.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="report folder to write")
    where.add_argument("--attach", action="store_true", help="write it into RUN/validation/<source>/")
    va.add_argument("--source-name", help="the name the report carries (default --source or the folder name)")
    va.add_argument("--batch-size", type=int, default=32)
    va.add_argument("--ignore-ages", action="store_true",
                    help="do not pass the manifest's ages (measure the image checks alone, as for uploads without age)")
    va.set_defaults(func=cmd_validate)

    ca = sub.add_parser("calibrate", help="copy a run with its operating point set on a site's labelled images")
    _site_args(ca)
    ca.add_argument("--out", type=Path, required=True, help="the new run folder")
    ca.add_argument("--site-name", help="the site's name (default --source or the folder name)")
    _rule_args(ca, required=True)
    ca.set_defaults(func=cmd_calibrate)

    cf = sub.add_parser("calibrate-crossfit",
                        help="measure site calibration honestly: k folds by patient, set on the others, pool")
    _site_args(cf)
    cf.add_argument("--split", default=None, help="use DATA/SPLIT when it exists (e.g. test)")
    cf.add_argument("--folds", type=int, default=2)
    cf.add_argument("--seed", type=int, default=0)
    cf.add_argument("--out", type=Path, required=True, help="folder for crossfit.json and crossfit_images.csv")
    _rule_args(cf, required=True)
    cf.set_defaults(func=cmd_calibrate_crossfit)


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
    train.add_argument("--init-from", type=Path, metavar="RUN",
                       help="start from this run's weights (its config.yaml is the default --config)")
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

    pc = sub.add_parser("population-check",
                        help="fit the check that refuses X-rays from another population (adults, other sites)")
    pc.add_argument("run_dir", type=Path)
    pc.add_argument("--data", type=Path, required=True, help="the data folder the run was trained on")
    pc.add_argument("--outside", type=Path, required=True, help="a folder of outside images or a CSV manifest")
    pc.add_argument("--sources", help="comma-separated manifest sources to use as outside images")
    pc.add_argument("--licence-prefix", default="", help="keep manifest rows whose licence starts with this")
    pc.add_argument("--held-out", help="comma-separated sources kept out of fitting, recorded on the card")
    pc.add_argument("--max-inside", type=int, default=1200, help="random training images used as inside")
    pc.add_argument("--refused-inside", type=float, default=0.01, help="share of the validation split refused")
    pc.add_argument("--c", type=float, default=0.1, help="inverse regularisation of the logistic regression")
    pc.add_argument("--config", type=Path, help="YAML whose population section states the intended population")
    pc.add_argument("--out", type=Path, help="write the run with the check here (default: in place)")
    pc.add_argument("--no-progress", action="store_true")
    pc.set_defaults(func=cmd_population_check)

    st = sub.add_parser("subtype-head",
                        help="fit the head that says whether a pneumonia looks bacterial or viral (Kermany file names)")
    st.add_argument("run_dir", type=Path)
    st.add_argument("--data", type=Path, required=True, help="the data folder the run was trained on")
    st.add_argument("--features", default="pooled,block_means",
                    help="feature kinds to choose from on validation (pooled, block_means)")
    st.add_argument("--c", default="0.001,0.01,0.1,1", help="comma-separated C values to choose from on validation")
    st.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the test CIs")
    st.add_argument("--out", type=Path, help="write the run with the head here (default: in place)")
    st.add_argument("--cache", type=Path, help="an .npz that keeps the extracted features for refitting")
    st.add_argument("--no-progress", action="store_true")
    st.set_defaults(func=cmd_subtype_head)

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

    oa = sub.add_parser("openapi", help="write the API's OpenAPI document without starting a server")
    oa.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/default"),
                    help="a run folder to build the app on (default runs/default; the document does not depend on it)")
    oa.add_argument("--out", type=Path, help="file to write (default: standard output)")
    oa.set_defaults(func=cmd_openapi)

    add_site_parsers(sub)

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
