"""The worklist: urgency order (unread first, then furthest above the threshold, refusals apart), filters
by day, result and read status, and mark-as-read recorded in the audit log."""

from __future__ import annotations

import datetime as dt

from dicom_files import dicom_bytes
from pneumoscan.api.access import audit_row
from pneumoscan.api.hospital.inbound import receive_instance

from .api_helpers import upload
from .auth_helpers import bearer_client


def _refusal_over_dicom(app) -> int:
    with app.app_context():
        got = receive_instance(app, dicom_bytes(patient_id="MRN-WL-LAT", view_position="LL"), source="dicom",
                               sop_instance_uid=None,
                               audit=lambda s: audit_row("create", object_type="study", object_id=s.id,
                                                         username="dicom:TEST"))
    assert got.ok and got.stored.refusal is not None
    return got.stored.study_id


def _seed(app, client, xray_png) -> list[int]:
    ids = [client.post("/api/studies", data=upload(xray_png(seed, seed % 2 == 1), f"{seed}.png")).get_json()["id"]
           for seed in range(5)]
    return [*ids, _refusal_over_dicom(app)]


def _expected_order(items: list[dict]) -> list[int]:
    def key(it):
        pred = it["prediction"]
        if pred is None:
            return (it["read_at"] is not None, 2, 0.0, -it["id"])
        margin = pred["probability"] - pred["threshold"]
        return (it["read_at"] is not None, 0 if margin >= 0 else 1, -margin, -it["id"])

    return [it["id"] for it in sorted(items, key=key)]


def test_the_worklist_is_in_urgency_order_with_refusals_apart(app, client, xray_png):
    ids = _seed(app, client, xray_png)
    items = client.get("/api/worklist").get_json()["items"]
    assert sorted(it["id"] for it in items) == sorted(ids)
    assert [it["id"] for it in items] == _expected_order(items)
    assert items[-1]["urgency"] == "refused" and items[-1]["refusal"]["reason"] == "lateral_view"
    margins = [it["margin"] for it in items if it["margin"] is not None]
    assert margins == sorted(margins, reverse=True) and len(margins) == 5


def test_mark_as_read_moves_a_study_down_and_is_audited(app, client, xray_png):
    ids = _seed(app, client, xray_png)
    first = client.get("/api/worklist").get_json()["items"][0]
    r = client.post(f"/api/studies/{first['id']}/read")
    assert r.status_code == 200 and r.get_json()["read_by"] == "test-clinician" and r.get_json()["read_at"]
    items = client.get("/api/worklist").get_json()["items"]
    assert items[-1]["id"] == first["id"] and [it["id"] for it in items] == _expected_order(items)
    assert [it["id"] for it in client.get("/api/worklist?read=read").get_json()["items"]] == [first["id"]]
    assert client.get("/api/worklist?read=unread").get_json()["total"] == len(ids) - 1
    audit = bearer_client(app, "admin").get("/api/admin/audit?per_page=100").get_json()["items"]
    row = next(r for r in audit if r["action"] == "mark_read")
    assert (row["username"], row["object_id"], row["object_type"]) == ("test-clinician", first["id"], "study")
    assert client.post("/api/studies/999999/read").status_code == 404


def test_filters_by_result_and_day(app, client, xray_png):
    _seed(app, client, xray_png)
    every = client.get("/api/worklist").get_json()["items"]
    for result in ("pneumonia", "normal", "refused"):
        got = client.get(f"/api/worklist?result={result}").get_json()["items"]
        labels = {(it["prediction"]["label"].lower() if it["prediction"] else "refused") for it in got}
        assert labels <= {result}
        assert len(got) == sum(1 for it in every if (it["prediction"]["label"].lower() if it["prediction"]
                                                    else "refused") == result)
    today = dt.datetime.now(dt.UTC).date()
    assert client.get(f"/api/worklist?date={today}").get_json()["total"] == len(every)
    assert client.get(f"/api/worklist?date={today - dt.timedelta(days=1)}").get_json()["total"] == 0


def test_bad_filters_are_named(client):
    for query, field in (("date=yesterday", "date"), ("result=maybe", "result"), ("read=perhaps", "read")):
        r = client.get(f"/api/worklist?{query}")
        assert r.status_code == 400 and r.get_json()["error"]["field"] == field
