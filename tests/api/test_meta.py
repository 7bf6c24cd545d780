"""Health, model card, figures and the served run folder's identity."""

from __future__ import annotations

import hashlib
import json

from pneumoscan.models.checkpoint import load_checkpoint


def test_health_names_the_served_model(client, tiny_run):
    _, meta = load_checkpoint(tiny_run)
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["model_version"] == meta["model_version"]
    digest = hashlib.sha256((tiny_run / "checkpoint.pt").read_bytes()).hexdigest()
    assert body["model_id"] == f"sha256:{digest[:16]}"


def test_model_card_is_the_run_folders_card_with_the_checkpoints_decision_values(client, tiny_run):
    _, meta = load_checkpoint(tiny_run)
    on_disk = json.loads((tiny_run / "model_card.json").read_text())
    card = client.get("/api/model").get_json()
    assert card["model_version"] == meta["model_version"] == on_disk["model_version"]
    assert card["threshold"] == meta["threshold"]
    assert card["class_names"] == ["NORMAL", "PNEUMONIA"]
    assert card["preprocessing"] == meta["preprocessing"]
    assert card["training_data"]["fingerprint"] == on_disk["training_data"]["fingerprint"]
    assert card["training_data"]["counts"] == on_disk["training_data"]["counts"]
    assert card["metrics"]["test"]["n"] == on_disk["metrics"]["test"]["n"]
    assert isinstance(card["threshold_rule"], str) and card["threshold_rule"]
    assert card["intended_use"] == on_disk["intended_use"]
    figures = {p.stem for p in (tiny_run / "figures").glob("*.png")}
    assert {"roc_curve", "confusion_matrix"} <= figures
    assert set(card["figures"]) == figures
    assert card["figures"]["roc_curve"] == "/api/model/figures/roc_curve.png"


def test_each_figure_listed_in_the_card_is_served_as_png(client, tiny_run):
    for name, url in client.get("/api/model").get_json()["figures"].items():
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.data == (tiny_run / "figures" / f"{name}.png").read_bytes()


def test_unknown_or_sneaky_figure_names_are_404_json(client):
    for url in ("/api/model/figures/nope.png", "/api/model/figures/..%2Fcheckpoint.pt",
                "/api/model/figures/checkpoint.pt"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_each_request_is_logged_on_one_line_with_its_id(client, caplog):
    caplog.set_level("INFO", logger="pneumoscan.api.requests")
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    ours = response.headers["X-Request-ID"]
    assert ours != "abc-123"  # the server's own id; the client's is only logged beside it
    lines = [r.getMessage() for r in caplog.records if r.name == "pneumoscan.api.requests"]
    assert len(lines) == 1
    assert '"GET /api/health" 200' in lines[0] and f"id={ours}" in lines[0] and "client_id=abc-123" in lines[0]
