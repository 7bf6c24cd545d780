"""External validation: what a run does on a site's own labelled images (``pneumoscan validate``).

Every image goes the way an upload goes: ``decode_image``, then the screener's refusal chain
(``Predictor.screen_batch``), so every refusal reason is counted. On what is answered the report
gives AUC, sensitivity, specificity, PPV and NPV with 95% bootstrap intervals at the run's
threshold, a reliability diagram with the Brier score, score histograms per class, an
operating-point table, and the same summary per age band, sex and view where the manifest has them.

Input, one of:

- an ImageFolder-style folder: ``DIR/NORMAL/*``, ``DIR/PNEUMONIA/*``; any other subfolder is
  another label (``CT``, ``LATERAL``...), reported (refused or not, called what) but left out of
  the metrics;
- a CSV manifest (``file,label[,age,sex,view,source]``), given as the file or as
  ``DIR/manifest.csv``; ``file`` is relative to the manifest's folder. ``source`` selects rows.

This module does not import ``serving``: the caller passes the screener (a ``Predictor``), whose
``screen_batch`` returns, for each image, an object with ``probability`` (answered) or ``reason``
(refused).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
from tqdm.auto import tqdm

from pneumoscan import CLASS_NAMES
from pneumoscan.data.decoding import DecodedImage, ImageDecodeError, decode_image
from pneumoscan.data.layout import IMAGE_EXTENSIONS, is_hidden
from pneumoscan.evaluation import figures
from pneumoscan.evaluation.metrics import evaluate_predictions, point_metrics

log = logging.getLogger(__name__)

FILE_EXTENSIONS: tuple[str, ...] = (*IMAGE_EXTENSIONS, ".dcm", ".dicom")
MANIFEST_NAME = "manifest.csv"
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<1", 0, 1), ("1-5", 1, 6), ("6-15", 6, 16), ("16-39", 16, 40), ("40-64", 40, 65), ("65+", 65, 1000),
)
"""Age bands in years (lower bound included, upper excluded); the shipped model was trained on 1-5."""
SUBGROUP_COLUMNS = ("age_band", "sex", "view")
OPERATING_THRESHOLDS = tuple(round(t, 2) for t in np.linspace(0.05, 0.95, 19))
REPORT_METRICS = ("auc", "sensitivity", "specificity", "ppv", "npv", "accuracy")
_SOURCE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class ValidationInputError(ValueError):
    """The labelled images cannot be read as given; the message names the problem and the fix."""


class Screener(Protocol):
    """What validation needs from a ``Predictor``."""

    threshold: float

    def screen_batch(self, decoded: Sequence[DecodedImage], ages: Sequence[float | None] | None = None) -> list[Any]:
        ...


@dataclass(frozen=True)
class LabelledFile:
    """One image of a validation set. ``label`` is upper-case; NORMAL/PNEUMONIA enter the metrics."""

    path: Path
    rel: str
    label: str
    age: float | None = None
    sex: str | None = None
    view: str | None = None

    @property
    def target(self) -> int | None:
        """0 (NORMAL), 1 (PNEUMONIA) or None (another label)."""
        return CLASS_NAMES.index(self.label) if self.label in CLASS_NAMES else None

    def subgroup(self, column: str) -> str | None:
        """The value of ``age_band``, ``sex`` or ``view`` (None when the source does not say)."""
        if column == "age_band":
            return age_band(self.age)
        return getattr(self, column)


@dataclass(frozen=True)
class Outcome:
    """What happened to one image: answered with ``probability``, or refused with ``reason``."""

    probability: float | None = None
    reason: str | None = None
    sha256: str = ""


@dataclass(frozen=True)
class LabelledSet:
    files: list[LabelledFile]
    kind: str  # "folder" | "manifest"
    root: Path
    columns: tuple[str, ...]  # the subgroup columns this source has values for


# ----------------------------------------------------------------------------------------- input


def source_slug(name: str) -> str:
    """A source name safe for a folder and a URL (letters, digits, ``_.-``)."""
    slug = _SOURCE_NAME.sub("_", name).strip("._")
    if not slug:
        raise ValidationInputError(f"Source name {name!r} has no usable characters; pass --source-name NAME.")
    return slug


def age_band(age: float | None) -> str | None:
    if age is None:
        return None
    for name, lo, hi in AGE_BANDS:
        if lo <= age < hi:
            return name
    return None


def _parse_age(text: str) -> float | None:
    """``"70"``, ``"045Y"`` (DICOM), ``"6M"`` -> years; blank or unreadable -> None."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([YMWD]?)", text or "", re.IGNORECASE)
    if not m:
        return None
    value = float(m.group(1))
    return value / {"M": 12, "W": 52, "D": 365}.get(m.group(2).upper(), 1)


def _norm_sex(text: str) -> str | None:
    t = (text or "").strip().lower()
    if not t:
        return None
    return {"m": "male", "f": "female"}.get(t[0], "other")


def _norm_view(text: str) -> str | None:
    t = " ".join((text or "").split()).upper()
    return t or None


def _norm_label(text: str, where: str) -> str:
    label = (text or "").strip().upper()
    if not label:
        raise ValidationInputError(f"{where} has no label. Give each image NORMAL or PNEUMONIA (or another label "
                                   "to report it without metrics).")
    if label not in CLASS_NAMES:
        close = difflib.get_close_matches(label, CLASS_NAMES, n=1, cutoff=0.75)
        if close:
            raise ValidationInputError(f"{where} has the unknown label {text.strip()!r}; did you mean {close[0]}? "
                                       f"The labels that enter the metrics are {', '.join(CLASS_NAMES)}.")
    return label


def load_labelled_set(data: str | Path, source: str | None = None) -> LabelledSet:
    """Read an ImageFolder-style folder or a CSV manifest (see the module docstring).

    Raises:
        ValidationInputError: no such path, no images, a missing file, an unusable label or column.
    """
    data = Path(data)
    if not data.exists():
        raise ValidationInputError(f"{data} does not exist. Pass a folder with NORMAL/ and PNEUMONIA/ subfolders "
                                   "or a CSV manifest (file,label[,age,sex,view]).")
    if data.is_file() or (data / MANIFEST_NAME).is_file():
        labelled = _read_manifest(data if data.is_file() else data / MANIFEST_NAME, source)
    else:
        if source is not None:
            raise ValidationInputError(f"--source {source} selects rows of a manifest, but {data} has no "
                                       f"{MANIFEST_NAME}. Drop --source or pass the manifest.")
        labelled = _read_folder(data)
    if not any(f.target is not None for f in labelled.files):
        found = ", ".join(sorted({f.label for f in labelled.files}))
        log.warning("%s has no NORMAL or PNEUMONIA images (labels: %s): refusals only, no metrics", data, found)
    return labelled


def _read_folder(root: Path) -> LabelledSet:
    files: list[LabelledFile] = []
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p))
    splits = [p.name for p in subs if p.name.lower() in ("train", "val", "test")]
    if splits:
        raise ValidationInputError(f"{root} holds the split folders {', '.join(splits)}, not label folders. Pass one "
                                   f"split, e.g. --data {root / splits[-1]}.")
    for sub in subs:
        label = _norm_label(sub.name, f"Folder {sub}")
        for path in sorted(sub.rglob("*")):
            if path.is_file() and path.suffix.lower() in FILE_EXTENSIONS and not is_hidden(path):
                files.append(LabelledFile(path, path.relative_to(root).as_posix(), label))
    if not files:
        raise ValidationInputError(
            f"No images found in {root}. Put them in label subfolders (NORMAL/, PNEUMONIA/; other names are "
            f"reported as other labels) or pass a CSV manifest (file,label[,age,sex,view]). "
            f"Image files end in {', '.join(FILE_EXTENSIONS)}."
        )
    return LabelledSet(files, "folder", root, ())


def _read_manifest(path: Path, source: str | None) -> LabelledSet:
    root = path.parent
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            rows = [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValidationInputError(f"Cannot read {path} as a CSV file ({exc}). Save it as UTF-8 CSV with a "
                                   "header row file,label[,age,sex,view].") from exc
    missing = [c for c in ("file", "label") if c not in columns]
    if missing:
        raise ValidationInputError(f"{path} lacks the column(s) {', '.join(missing)} (found: "
                                   f"{', '.join(columns) or 'none'}). The header must be file,label[,age,sex,view].")
    numbered = list(enumerate(rows, start=2))  # row 1 is the header
    if source is not None:
        if "source" not in columns:
            raise ValidationInputError(f"--source {source} needs a 'source' column in {path}; it has "
                                       f"{', '.join(columns)}. Drop --source.")
        available = sorted({r["source"].strip() for _, r in numbered})
        numbered = [(i, r) for i, r in numbered if r["source"].strip() == source]
        if not numbered:
            raise ValidationInputError(f"No rows of {path} have source {source!r}. Sources: {', '.join(available)}.")
    if not numbered:
        raise ValidationInputError(f"{path} has no rows. Add one row per image: file,label[,age,sex,view].")
    files, absent = [], []
    for i, r in numbered:
        rel = r["file"].strip()
        label = _norm_label(r["label"], f"Row {i} of {path} ({rel or 'no file'})")
        file = root / rel
        if not rel or not file.is_file():
            absent.append(f"row {i}: {rel!r}")
            continue
        files.append(LabelledFile(file, rel, label, _parse_age(r.get("age", "")), _norm_sex(r.get("sex", "")),
                                  _norm_view(r.get("view", ""))))
    if absent:
        shown = "; ".join(absent[:5]) + (f"; and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise ValidationInputError(f"{len(absent)} file(s) listed in {path} do not exist ({shown}). Fix the paths "
                                   f"(relative to {root}) or remove those rows.")
    present = tuple(c for c in SUBGROUP_COLUMNS if any(f.subgroup(c) is not None for f in files))
    return LabelledSet(files, "manifest", root, present)


# ------------------------------------------------------------------------------------- screening


def screen_files(
    screener: Screener, files: Sequence[LabelledFile], batch_size: int = 32, progress: bool = True,
    desc: str = "validate", use_ages: bool = False,
) -> list[Outcome]:
    """Decode each file and pass it through ``screener.screen_batch``, ``batch_size`` at a time.

    With ``use_ages`` the manifest's ages go with the images, so the age rule of the intended
    population applies as it would to a request that states the age.

    A file that does not decode counts as refused with the decoder's reason code
    (``unreadable_image``, ``image_too_small``...), as the API would answer it.
    """
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(files), desc=desc, unit="image", disable=not progress)
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        slots: list[Outcome | None] = []
        decoded: list[DecodedImage] = []
        ages: list[float | None] = []
        shas: list[str] = []
        for f in chunk:
            data = f.path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            try:
                decoded.append(decode_image(data))
                ages.append(f.age if use_ages else None)
                shas.append(sha)
                slots.append(None)
            except ImageDecodeError as exc:
                slots.append(Outcome(reason=exc.code, sha256=sha))
        results = iter(zip(screener.screen_batch(decoded, ages=ages) if decoded else [], shas))
        for k, slot in enumerate(slots):
            if slot is None:
                result, sha = next(results)
                reason = getattr(result, "reason", None)
                slots[k] = (Outcome(reason=str(reason), sha256=sha) if reason is not None
                            else Outcome(probability=float(result.probability), sha256=sha))
        outcomes.extend(s for s in slots if s is not None)
        bar.update(len(chunk))
    bar.close()
    return outcomes


def data_fingerprint(files: Sequence[LabelledFile], outcomes: Sequence[Outcome]) -> str:
    """SHA-256 over (file, label, content hash) of every image: which images, labelled how."""
    h = hashlib.sha256()
    for line in sorted(f"{f.rel}\t{f.label}\t{o.sha256}" for f, o in zip(files, outcomes)):
        h.update(line.encode() + b"\n")
    return f"sha256:{h.hexdigest()}"


def answered_arrays(files: Sequence[LabelledFile], outcomes: Sequence[Outcome]) -> tuple[np.ndarray, np.ndarray]:
    """``(y, p)`` of the answered NORMAL/PNEUMONIA images."""
    pairs = [(f.target, o.probability) for f, o in zip(files, outcomes)
             if f.target is not None and o.probability is not None]
    y = np.asarray([t for t, _ in pairs], dtype=int)
    p = np.asarray([q for _, q in pairs], dtype=float)
    return y, p


# --------------------------------------------------------------------------------------- metrics


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _interval(m: dict) -> dict[str, float | None]:
    return {"value": _num(m["value"]), "ci_low": _num(m["ci_low"]), "ci_high": _num(m["ci_high"])}


def answered_metrics(y: np.ndarray, p: np.ndarray, threshold: float, n_boot: int = 1000,
                     seed: int = 0) -> tuple[dict[str, dict | None], dict[str, str]]:
    """Metrics with 95% bootstrap intervals on answered images, and why any of them is null.

    Returns:
        ``({metric: {"value", "ci_low", "ci_high"} or None}, {metric: reason it is null})``; metrics
        are ``auc``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``, ``accuracy``, ``brier``.
    """
    metrics: dict[str, dict | None] = {k: None for k in (*REPORT_METRICS, "brier")}
    reasons: dict[str, str] = {}
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos + n_neg == 0:
        why = "no NORMAL or PNEUMONIA image was answered"
        return metrics, {k: why for k in metrics}
    m = evaluate_predictions(y, p, threshold, n_boot=n_boot, seed=seed)
    for ours, theirs in (("auc", "auc"), ("sensitivity", "sensitivity"), ("specificity", "specificity"),
                         ("ppv", "precision"), ("npv", "npv"), ("accuracy", "accuracy")):
        metrics[ours] = _interval(m[theirs])
    one_class = f"needs both classes among the answered images; these have only {CLASS_NAMES[int(n_pos > 0)]}"
    if n_pos == 0 or n_neg == 0:
        for k in ("auc", "ppv", "npv"):
            metrics[k], reasons[k] = None, one_class
    if n_pos == 0:
        metrics["sensitivity"], reasons["sensitivity"] = None, "no answered PNEUMONIA image"
    if n_neg == 0:
        metrics["specificity"], reasons["specificity"] = None, "no answered NORMAL image"
    for k in ("ppv", "npv"):
        if metrics[k] is not None and metrics[k]["value"] is None:
            metrics[k], reasons[k] = None, ("no image called PNEUMONIA" if k == "ppv" else "no image called NORMAL")
    rng = np.random.default_rng(seed)
    boots = [brier_score_loss(y[idx], p[idx], labels=[0, 1])
             for idx in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))]
    lo, hi = (np.quantile(boots, [0.025, 0.975]).tolist() if boots else (None, None))
    metrics["brier"] = {"value": float(brier_score_loss(y, p, labels=[0, 1])), "ci_low": lo, "ci_high": hi}
    return metrics, reasons


def operating_points(y: np.ndarray, p: np.ndarray, threshold: float,
                     thresholds: Sequence[float] = OPERATING_THRESHOLDS) -> list[dict]:
    """Sensitivity, specificity, PPV, NPV and the share called pneumonia at each threshold."""
    if len(y) == 0:
        return []
    rows = []
    for t in sorted({*map(float, thresholds), float(threshold)}):
        m = point_metrics(y, p, t)
        rows.append({"threshold": t, "is_run_threshold": t == float(threshold),
                     "sensitivity": _num(m["sensitivity"]), "specificity": _num(m["specificity"]),
                     "ppv": _num(m["precision"]), "npv": _num(m["npv"]),
                     "called_pneumonia": float((p >= t).mean())})
    return rows


def calibration(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict | None:
    """The reliability curve (uniform bins, empty bins dropped) with the images per bin."""
    if len(y) == 0:
        return None
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, n_bins + 1))[0]
    return {"n_bins": n_bins, "strategy": "uniform", "observed": prob_true.tolist(), "predicted": prob_pred.tolist(),
            "counts": [int(c) for c in counts if c > 0]}


def summarise(files: Sequence[LabelledFile], outcomes: Sequence[Outcome], threshold: float, n_boot: int = 1000,
              seed: int = 0, detail: bool = True) -> dict:
    """Counts, refusals by reason and class, calls, and metrics on the answered images.

    ``detail`` adds the operating-point table and the reliability curve.
    """
    labels = [f.label for f in files]
    counts = Counter(labels)
    refused = Counter(o.reason for o in outcomes if o.reason is not None)
    n = len(files)
    by_class: dict[str, dict] = {}
    for label in sorted(counts, key=lambda c: (c not in CLASS_NAMES, c)):
        mine = [o for f, o in zip(files, outcomes) if f.label == label]
        answered = [o.probability for o in mine if o.probability is not None]
        by_class[label] = {
            "n": len(mine),
            "refused": dict(Counter(o.reason for o in mine if o.reason is not None)),
            "answered": len(answered),
            "called_pneumonia": int(sum(q >= threshold for q in answered)),
            "called_pneumonia_share": (float(np.mean([q >= threshold for q in answered])) if answered else None),
        }
    answered_all = [o.probability for o in outcomes if o.probability is not None]
    y, p = answered_arrays(files, outcomes)
    metrics, reasons = answered_metrics(y, p, threshold, n_boot, seed)
    out: dict[str, Any] = {
        "n": n,
        "counts": {c: counts.get(c, 0) for c in CLASS_NAMES},
        "other_labels": {c: k for c, k in sorted(counts.items()) if c not in CLASS_NAMES},
        "answered": len(answered_all),
        "refused": dict(sorted(refused.items())),
        "refused_share": {r: k / n for r, k in sorted(refused.items())} if n else {},
        "refused_share_total": (sum(refused.values()) / n) if n else None,
        "pneumonia_called_share": (float(np.mean(np.asarray(answered_all) >= threshold)) if answered_all else None),
        "by_class": by_class,
        "metrics_n": {"answered_labelled": int(len(y)), "NORMAL": int((y == 0).sum()),
                      "PNEUMONIA": int((y == 1).sum())},
        "metrics": metrics,
        "null_reasons": reasons,
    }
    if detail:
        out["operating_points"] = operating_points(y, p, threshold)
        out["calibration"] = calibration(y, p)
    return out


# ---------------------------------------------------------------------------------------- report


def build_report(labelled: LabelledSet, outcomes: Sequence[Outcome], threshold: float, source: str,
                 run_info: dict | None = None, n_boot: int = 1000, seed: int = 0) -> dict:
    """The whole report (what ``report.json`` holds), without figures."""
    files = labelled.files
    report: dict[str, Any] = {
        "source": source,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run": {**(run_info or {}), "threshold": float(threshold)},
        "data": {"path": labelled.root.name, "kind": labelled.kind,
                 "fingerprint": data_fingerprint(files, outcomes)},
        **summarise(files, outcomes, threshold, n_boot, seed),
        "subgroups": {},
    }
    for column in labelled.columns:
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(files):
            groups.setdefault(f.subgroup(column) or "unknown", []).append(i)
        order = [b for b, _, _ in AGE_BANDS] if column == "age_band" else sorted(groups)
        report["subgroups"][column] = {
            g: summarise([files[i] for i in groups[g]], [outcomes[i] for i in groups[g]], threshold, n_boot, seed,
                         detail=False)
            for g in [*[o for o in order if o in groups], *(["unknown"] if "unknown" in groups else [])]
        }
    return report


def write_figures(report: dict, y: np.ndarray, p: np.ndarray, out: Path) -> dict[str, str]:
    """The report's PNGs in ``out``; returns ``{name: file name}``."""
    threshold, source = report["run"]["threshold"], report["source"]
    made: dict[str, str] = {}

    def keep(path: Path) -> None:
        made[path.stem] = path.name

    keep(figures.refusal_bars(report["by_class"], out / "refusals.png", f"{source}: answered and refused"))
    if len(y):
        keep(figures.score_distribution(y, p, threshold, out / "score_distribution.png",
                                        f"{source}: scores of the answered images (n={len(y)})"))
        keep(figures.reliability_diagram(report["calibration"], report["metrics"]["brier"],
                                         out / "reliability.png", f"{source}: reliability (n={len(y)})"))
        keep(figures.operating_points_figure(report["operating_points"], threshold, out / "operating_points.png"))
    if report["metrics"]["auc"] is not None:
        keep(figures.roc_figure(y, p, report["metrics"]["auc"], threshold, out / "roc_curve.png"))
    return made


def write_report(report: dict, y: np.ndarray, p: np.ndarray, rows: Sequence[dict], out: str | Path) -> Path:
    """``report.json``, ``predictions.csv``, the figures and ``summary.html`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report["figures"] = write_figures(report, y, p, out)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    with (out / "predictions.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "status", "reason", "probability", "called"])
        writer.writeheader()
        writer.writerows(rows)
    from pneumoscan.evaluation.report_html import render_summary

    (out / "summary.html").write_text(render_summary(report))
    return out


def validate(screener: Screener, data: str | Path, out: str | Path, source: str | None = None,
             source_name: str | None = None, run_info: dict | None = None, progress: bool = True,
             n_boot: int = 1000, batch_size: int = 32, use_ages: bool = True) -> dict:
    """Screen a labelled set and write its report into ``out``.

    Args:
        screener: the run's ``Predictor``.
        data: the folder or manifest (see the module docstring).
        out: the report folder (created).
        source: keep only manifest rows of this ``source``.
        source_name: the name the report carries (default: ``source``, else the folder's name).
        run_info: what to record about the run (path, model_version, model_id...).
        use_ages: pass the manifest's ages to the screener (the age rule applies); False measures
            the image checks alone, as for uploads that state no age.

    Returns:
        The report dict (also in ``out/report.json``).

    Raises:
        ValidationInputError: the input cannot be read (the message says how to fix it).
    """
    labelled = load_labelled_set(data, source)
    name = source_slug(source_name or source or default_source_name(data))
    outcomes = screen_files(screener, labelled.files, batch_size, progress, desc=f"validate {name}", use_ages=use_ages)
    report = build_report(labelled, outcomes, screener.threshold, name, run_info, n_boot)
    report["ages"] = "used: the age rule applied to manifest ages" if use_ages else "not used: image checks only"
    y, p = answered_arrays(labelled.files, outcomes)
    rows = [{"file": f.rel, "label": f.label, "status": "refused" if o.reason else "answered",
             "reason": o.reason or "", "probability": "" if o.probability is None else f"{o.probability:.6f}",
             "called": "" if o.probability is None else CLASS_NAMES[int(o.probability >= screener.threshold)]}
            for f, o in zip(labelled.files, outcomes)]
    write_report(report, y, p, rows, out)
    return report


def default_source_name(data: str | Path) -> str:
    """The folder's name (a manifest's folder, or the CSV's stem when it is not ``manifest.csv``)."""
    data = Path(data)
    if data.is_file():
        return data.parent.name if data.name == MANIFEST_NAME else data.stem
    return data.resolve().name
