"""``pneumoscan validate``: a run on a site's labelled images, folder or manifest, with clear errors."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pneumoscan.cli import main
from pneumoscan.evaluation.validation import answered_metrics, load_labelled_set
from pneumoscan.serving.predictor import Predictor


@pytest.fixture(scope="module")
def folder_report(tiny_run, site_images, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("reports") / "folder"
    assert main(["validate", str(tiny_run), "--data", str(site_images), "--out", str(out), "--no-progress",
                 "--bootstrap", "50"]) == 0
    return out, json.loads((out / "report.json").read_text())


def test_every_image_is_counted_answered_or_refused_with_its_reason(folder_report, site_images):
    _, r = folder_report
    files = {p.relative_to(site_images).as_posix() for p in site_images.rglob("*.*")}
    assert r["n"] == len(files) == 8 + 8 + 5 + 2 + 1
    assert r["counts"] == {"NORMAL": 8 + 2 + 1, "PNEUMONIA": 8 + 3 + 1} and r["other_labels"] == {"LATERAL": 1}
    assert r["by_class"]["NORMAL"]["refused"]["blank_image"] == 1
    assert r["by_class"]["PNEUMONIA"]["refused"]["unsupported_media_type"] == 1
    assert r["answered"] + sum(r["refused"].values()) == r["n"]
    assert r["refused_share"]["blank_image"] == pytest.approx(1 / r["n"])
    for label, c in r["by_class"].items():
        assert c["answered"] + sum(c["refused"].values()) == c["n"], label


def test_metrics_cover_only_the_answered_normal_and_pneumonia_images(folder_report):
    out, r = folder_report
    with (out / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    answered = [row for row in rows if row["status"] == "answered" and row["label"] in ("NORMAL", "PNEUMONIA")]
    assert r["metrics_n"]["answered_labelled"] == len(answered)
    y = np.array([row["label"] == "PNEUMONIA" for row in answered], dtype=int)
    called = np.array([row["called"] == "PNEUMONIA" for row in answered], dtype=int)
    assert r["metrics"]["sensitivity"]["value"] == pytest.approx(called[y == 1].mean())
    assert r["metrics"]["specificity"]["value"] == pytest.approx(1 - called[y == 0].mean())
    for k in ("auc", "sensitivity", "specificity", "brier"):
        m = r["metrics"][k]
        assert m["ci_low"] <= m["value"] <= m["ci_high"], k
    assert r["calibration"]["counts"] and sum(r["calibration"]["counts"]) == len(answered)
    run_rows = [o for o in r["operating_points"] if o["is_run_threshold"]]
    assert len(run_rows) == 1 and run_rows[0]["threshold"] == r["run"]["threshold"]


def test_the_summary_page_shows_every_figure_it_references(folder_report):
    out, r = folder_report
    html = (out / "summary.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert set(sources) == set(r["figures"].values())
    assert {"refusals", "reliability", "score_distribution", "operating_points"} <= set(r["figures"])
    for src in sources:
        assert "/" not in src and (out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "blank_image" in html and "Brier" in html and r["run"]["model_version"] in html


@pytest.fixture(scope="module")
def manifest(site_images) -> Path:
    """A CSV manifest beside the images with age, sex, view and source columns."""
    path = site_images / "manifest.csv"
    rows = []
    for i, p in enumerate(sorted(site_images.rglob("*.png"))):
        rows.append({"file": p.relative_to(site_images).as_posix(), "label": p.parent.name.lower(),
                     "age": ["3", "45Y", "70", ""][i % 4], "sex": ["M", "female", "", "f"][i % 4],
                     "view": ["PA", "AP", "PA", "ap"][i % 4], "source": "a" if i % 2 else "b"})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    yield path
    path.unlink()


def test_a_manifest_gives_the_summary_per_age_band_sex_and_view(tiny_run, manifest, tmp_path):
    out = tmp_path / "rep"
    assert main(["validate", str(tiny_run), "--data", str(manifest), "--out", str(out), "--no-progress",
                 "--bootstrap", "20", "--source", "a"]) == 0
    r = json.loads((out / "report.json").read_text())
    n_rows = sum(1 for row in csv.DictReader(manifest.open()) if row["source"] == "a")
    assert r["source"] == "a" and r["n"] == n_rows and r["data"]["kind"] == "manifest"
    subgroups = r["subgroups"]
    assert set(subgroups) == {"age_band", "sex", "view"}
    assert set(subgroups["view"]) <= {"PA", "AP"}  # "ap" and "AP" are one view
    assert set(subgroups["age_band"]) <= {"1-5", "40-64", "65+", "unknown"}
    for groups in subgroups.values():
        assert sum(g["n"] for g in groups.values()) == r["n"]
        assert sum(g["answered"] for g in groups.values()) == r["answered"]
    assert "By age band" in (out / "summary.html").read_text()


def test_a_source_with_one_class_gets_null_metrics_with_reasons():
    y, p = np.zeros(30, dtype=int), np.linspace(0, 0.6, 30)
    metrics, reasons = answered_metrics(y, p, 0.5, n_boot=50)
    assert metrics["auc"] is None and "both classes" in reasons["auc"]
    assert metrics["sensitivity"] is None and "PNEUMONIA" in reasons["sensitivity"]
    assert metrics["ppv"] is None and metrics["npv"] is None
    spec = metrics["specificity"]
    assert spec["value"] == pytest.approx((p < 0.5).mean())
    assert spec["ci_low"] <= spec["value"] <= spec["ci_high"]
    assert metrics["brier"]["value"] == pytest.approx(np.mean(p ** 2))


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_file", r"1 file\(s\) listed in .* do not exist \(row 3: 'NORMAL/nope.png'\)\. Fix the paths"),
        ("typo_label", r"unknown label 'PNEUMONA'; did you mean PNEUMONIA\?"),
        ("no_label_column", r"lacks the column\(s\) label .* header must be file,label"),
        ("empty_dir", r"No images found in .* label subfolders \(NORMAL/, PNEUMONIA/"),
        ("unknown_source", r"No rows of .* have source 'zzz'\. Sources: "),
        ("dataset_root", r"holds the split folders test, train, val, not label folders\. Pass one split, e\.g\. "
                         r"--data .*val"),
    ],
)
def test_bad_input_gets_one_clear_error_naming_the_fix(case, expected, tiny_run, site_images, synthetic_dataset,
                                                       tmp_path, capsys):
    real = sorted((site_images / "NORMAL").glob("IM-*.png"))[0].relative_to(site_images).as_posix()
    extra: list[str] = []
    if case == "missing_file":
        data = _write_csv(site_images.parent / "bad.csv", [{"file": f"st_marys/{real}", "label": "NORMAL"},
                                                           {"file": "NORMAL/nope.png", "label": "NORMAL"}])
    elif case == "typo_label":
        data = _write_csv(site_images / "typo.csv", [{"file": real, "label": "PNEUMONA"}])
    elif case == "no_label_column":
        data = _write_csv(site_images / "nolabel.csv", [{"file": real, "diagnosis": "NORMAL"}])
    elif case == "dataset_root":
        data = synthetic_dataset
    elif case == "empty_dir":
        data = tmp_path / "empty"
        (data / "NORMAL").mkdir(parents=True)
    else:
        data = _write_csv(site_images / "sourced.csv", [{"file": real, "label": "NORMAL", "source": "x"}])
        extra = ["--source", "zzz"]
    try:
        code = main(["validate", str(tiny_run), "--data", str(data), "--out", str(tmp_path / "r"), "--no-progress",
                     *extra])
    finally:
        if data.suffix == ".csv":
            data.unlink()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert re.search(expected, err), err
    assert not (tmp_path / "r").exists()


def test_other_labels_are_kept_and_near_misses_are_not(site_images):
    labelled = load_labelled_set(site_images)
    assert {f.label for f in labelled.files} == {"NORMAL", "PNEUMONIA", "LATERAL"}
    assert all((f.target is None) == (f.label == "LATERAL") for f in labelled.files)


def test_validation_goes_through_the_predictors_refusal_chain(tiny_run, site_images, folder_report):
    """The report's answers are exactly what ``screen_batch`` answers for the same file."""
    from pneumoscan.data.decoding import decode_image

    out, _ = folder_report
    predictor = Predictor.from_run(tiny_run)
    rows = {row["file"]: row for row in csv.DictReader((out / "predictions.csv").open())}
    for rel in ("NORMAL/blank.png", sorted(r for r in rows if r.startswith("PNEUMONIA/person9"))[0]):
        result = predictor.screen_batch([decode_image((site_images / rel).read_bytes())])[0]
        row = rows[rel]
        if hasattr(result, "reason"):
            assert row["status"] == "refused" and row["reason"] == result.reason
        else:
            assert float(row["probability"]) == pytest.approx(result.probability, abs=1e-6)


def test_manifest_ages_meet_the_age_rule_unless_ignored(tiny_run, manifest, tmp_path):
    rows = list(csv.DictReader(manifest.open()))
    adults = sum(1 for row in rows if row["age"] in ("45Y", "70"))
    reports = {}
    for flag in ([], ["--ignore-ages"]):
        out = tmp_path / ("ignored" if flag else "used")
        assert main(["validate", str(tiny_run), "--data", str(manifest), "--out", str(out), "--no-progress",
                     "--bootstrap", "20", *flag]) == 0
        reports[bool(flag)] = json.loads((out / "report.json").read_text())
    used, ignored = reports[False], reports[True]
    undecodable = sum(k for r, k in used["refused"].items() if r != "outside_intended_population")
    assert used["refused"].get("outside_intended_population", 0) >= adults - undecodable > 0
    assert used["subgroups"]["age_band"]["1-5"]["refused"].get("outside_intended_population", 0) == 0
    assert ignored["refused"].get("outside_intended_population", 0) < adults
    assert ignored["ages"].startswith("not used") and used["ages"].startswith("used")
