"""Site calibration: recalibration as plain numbers, a calibrated run with provenance, honest cross-fitting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from pneumoscan.cli import main
from pneumoscan.evaluation.calibration import crossfit, patient_folds
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.models.recalibration import Recalibration, logit
from pneumoscan.serving.predictor import Predictor


def _scores(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(2.5 * y - 1.0 + rng.normal(0, 1.2, n))))
    return y, p


def test_platt_and_isotonic_stored_as_numbers_give_scikit_learns_probabilities():
    y, p = _scores()
    grid = np.linspace(0.001, 0.999, 57)
    platt = Recalibration.from_dict(Recalibration.fit(y, p, "platt").to_dict())
    lr = LogisticRegression(C=1e6).fit(logit(p).reshape(-1, 1), y)
    np.testing.assert_allclose(platt.apply(grid), lr.predict_proba(logit(grid).reshape(-1, 1))[:, 1], atol=1e-9)
    iso = Recalibration.from_dict(json.loads(json.dumps(Recalibration.fit(y, p, "isotonic").to_dict())))
    ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(iso.apply(grid), ref.predict(grid), atol=1e-12)
    assert np.all(np.diff(iso.apply(grid)) >= 0) and np.all(np.diff(platt.apply(grid)) > 0)
    assert Recalibration.from_dict(None).apply(grid).tolist() == grid.tolist()
    with pytest.raises(ValueError, match="Only none, platt, isotonic"):
        Recalibration.fit(y, p, "beta")
    with pytest.raises(ValueError, match="both NORMAL and PNEUMONIA"):
        Recalibration.fit(np.zeros(10), p[:10], "platt")


def test_cross_fitting_never_lets_an_image_set_its_own_threshold():
    y, p = _scores(240, seed=1)
    groups = [f"patient{i // 3}" for i in range(len(y))]  # three images per patient
    fit = crossfit(y, p, groups, n_folds=2, min_sensitivity=0.95, n_boot=20)
    for k in range(2):
        own = set(np.flatnonzero(fit.fold == k).tolist())
        assert own and not own & set(fit.calibrated_on[k].tolist())
    # a patient's images all sit in one fold
    for g in set(groups):
        assert len({int(fit.fold[i]) for i, h in enumerate(groups) if h == g}) == 1
    # scrambling the scores of fold 0 changes fold 1's threshold, never fold 0's own
    q = p.copy()
    zero = fit.fold == 0
    q[zero] = np.random.default_rng(5).uniform(size=zero.sum())
    again = crossfit(y, q, groups, n_folds=2, min_sensitivity=0.95, n_boot=20)
    assert np.array_equal(again.fold, fit.fold)
    assert again.thresholds[0] == fit.thresholds[0]
    assert again.thresholds[1] != fit.thresholds[1]
    # every image is called at its own fold's threshold
    cm = np.asarray(fit.pooled["confusion_matrix"])
    called = np.array([p[i] >= fit.thresholds[fit.fold[i]] for i in range(len(y))])
    assert cm[1, 1] == int((called & (y == 1)).sum()) and cm[0, 1] == int((called & (y == 0)).sum())


def test_patient_folds_need_enough_patients():
    with pytest.raises(ValueError, match="too few for 2 folds"):
        patient_folds([0, 1, 0], ["a", "a", "a"], 2)


def test_a_calibrated_run_records_where_its_operating_point_came_from(site_run, tiny_run, site_images):
    model, meta = load_checkpoint(site_run)
    _, parent = load_checkpoint(tiny_run)
    op = meta["operating_point"]
    assert op["source"] == "site" and op["site"] == "st_marys" and op["recalibration"] == "platt"
    assert op["original_threshold"] == parent["threshold"] and op["original_rule"] == parent["threshold_rule"]
    assert op["rule"] == {"rule": "sensitivity", "min_sensitivity": 0.9, "source": "site", "site": "st_marys"}
    assert op["threshold"] == meta["threshold"]
    assert op["data_fingerprint"].startswith("sha256:") and op["date"]
    report = json.loads((site_run / "validation" / "st_marys" / "report.json").read_text())
    assert op["n_per_class"] == {"NORMAL": report["metrics_n"]["NORMAL"], "PNEUMONIA": report["metrics_n"]["PNEUMONIA"]}
    assert op["data_fingerprint"] == report["data"]["fingerprint"]  # the same images, the same fingerprint
    card = json.loads((site_run / "model_card.json").read_text())
    assert card["operating_point"] == op and card["threshold"] == meta["threshold"]
    assert card["model_version"] == meta["model_version"] == f"{parent['model_version']}+site-st_marys"
    assert meta["recalibration"]["method"] == "platt"
    # the Predictor applies the recalibration before the threshold
    recal = Recalibration.from_dict(meta["recalibration"])
    raw = Predictor(*load_checkpoint(tiny_run))
    site = Predictor.from_run(site_run)
    from PIL import Image

    images = [Image.open(p) for p in sorted((site_images / "PNEUMONIA").glob("person9*.png"))[:3]]
    np.testing.assert_allclose(site.probabilities(images), recal.apply(raw.probabilities(images)), atol=1e-9)
    for pred, q in zip(site.predict_batch(images), site.probabilities(images)):
        assert pred.threshold == meta["threshold"] and pred.label == ("PNEUMONIA" if q >= meta["threshold"]
                                                                        else "NORMAL")


def test_the_in_sample_sensitivity_reaches_the_asked_minimum(site_run):
    card = json.loads((site_run / "model_card.json").read_text())
    assert card["metrics"]["site_in_sample"]["sensitivity"]["value"] >= 0.9
    assert "original threshold" in card["metrics_note"]


def test_calibrate_refuses_an_existing_folder_and_a_one_class_site(tiny_run, site_images, site_run, tmp_path, capsys):
    assert main(["calibrate", str(tiny_run), "--data", str(site_images), "--out", str(site_run),
                 "--threshold", "0.5", "--no-progress"]) == 2
    assert "already exists; choose a new folder" in capsys.readouterr().err
    one = tmp_path / "normals"
    (one / "NORMAL").mkdir(parents=True)
    for p in sorted((site_images / "NORMAL").glob("IM-*.png"))[:4]:
        (one / "NORMAL" / p.name).write_bytes(p.read_bytes())
    assert main(["calibrate", str(tiny_run), "--data", str(one), "--out", str(tmp_path / "x"),
                 "--min-sensitivity", "0.9", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "needs answered NORMAL and PNEUMONIA images" in err and "PNEUMONIA 0" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_calibrate_crossfit_writes_both_rows_and_the_fold_of_every_image(tiny_run, synthetic_dataset, tmp_path,
                                                                          capsys):
    out = tmp_path / "cf"
    assert main(["calibrate-crossfit", str(tiny_run), "--data", str(synthetic_dataset), "--split", "test",
                 "--folds", "2", "--min-sensitivity", "0.95", "--out", str(out), "--no-progress",
                 "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    assert "zero_shot" in printed and "cross_fitted" in printed
    summary = json.loads((out / "crossfit.json").read_text())
    assert summary["zero_shot"]["n"] == summary["cross_fitted"]["n"] == summary["answered_labelled"]
    rows = list(__import__("csv").DictReader((out / "crossfit_images.csv").open()))
    assert len(rows) == summary["answered_labelled"]
    for row in rows:
        assert float(row["threshold"]) == summary["fold_thresholds"][int(row["fold"])]
