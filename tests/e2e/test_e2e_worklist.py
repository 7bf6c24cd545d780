"""The worklist in a real browser: studies in urgency order (refusals apart), filters, mark as read, and
batch upload with progress per file. A refusal arrives the way the PACS sends it (STOW-RS), so it is
stored and flagged on the worklist without anybody uploading it by hand."""

from __future__ import annotations

import re
import sys

import pytest

from .e2e_files import REPO, SAMPLES

pytestmark = pytest.mark.e2e


def _dicom(**tags) -> bytes:
    sys.path.insert(0, str(REPO / "tests"))
    from dicom_files import sample_dicom

    return sample_dicom(**tags)


def _row_ids(page, table: str) -> list[int]:
    rows = page.get_by_test_id(table).get_by_test_id("worklist-row")
    return [int(r.get_attribute("data-study-id")) for r in rows.all()]


def test_the_worklist_sorts_filters_and_marks_as_read(page, api, e2e_server, credentials, page_errors, shot):
    from playwright.sync_api import expect

    mine = []
    for name in ("person1946_bacteria_4874.jpeg", "NORMAL2-IM-1437-0001.jpeg", "person1951_bacteria_4882.jpeg"):
        with open(SAMPLES / name, "rb") as fh:
            r = api.post(f"{e2e_server}/api/studies", files={"image": (name, fh)}, data={"age_years": "4"}, timeout=120)
        assert r.status_code == 201, r.text
        mine.append(r.json())
    lateral = api.post(f"{e2e_server}/dicomweb/studies", data=_dicom(view_position="LL", patient_id="E2E-WL-LAT"),
                       headers={"Content-Type": "application/dicom"}, timeout=120)
    assert lateral.status_code == 200, lateral.text
    refused_id = int(lateral.json()["00081199"]["Value"][0]["00081190"]["Value"][0].rsplit("/", 1)[-1])

    page.goto("/worklist/")
    table = page.get_by_test_id("worklist-table")
    expect(table.locator(f'[data-study-id="{mine[0]["id"]}"]')).to_be_visible()
    expected = [s["id"] for s in sorted(mine, key=lambda s: -(s["prediction"]["probability"]
                                                               - s["prediction"]["threshold"]))]
    shown = [i for i in _row_ids(page, "worklist-table") if i in expected]
    assert shown == expected
    refused = page.get_by_test_id("worklist-refused")
    expect(refused.locator(f'[data-study-id="{refused_id}"]')).to_contain_text("Refused")
    shot(page, "worklist_01_by_urgency")

    page.get_by_label("Result").select_option("refused")
    expect(page.get_by_test_id("worklist-table")).to_have_count(0)
    expect(refused.locator(f'[data-study-id="{refused_id}"]')).to_be_visible()
    page.get_by_label("Result").select_option("all")

    top = expected[0]
    page.get_by_role("button", name=f"Mark as read: study {top}").click()
    row = page.get_by_test_id("worklist-table").locator(f'[data-study-id="{top}"]')
    expect(row.get_by_test_id("worklist-read")).to_contain_text(f"Read by {credentials[0]}")
    assert [i for i in _row_ids(page, "worklist-table") if i in expected] == [*expected[1:], top]
    assert api.get(f"{e2e_server}/api/studies/{top}", timeout=30).json()["read_by"] == credentials[0]
    page.get_by_label("Read status").select_option("unread")
    expect(page.get_by_test_id("worklist-table").locator(f'[data-study-id="{top}"]')).to_have_count(0)
    page.get_by_label("Read status").select_option("all")
    shot(page, "worklist_02_marked_read")

    files = [SAMPLES / "person1947_bacteria_4876.jpeg", SAMPLES / "NORMAL2-IM-1438-0001.jpeg"]
    page.get_by_label("X-ray files").set_input_files([str(f) for f in files])
    expect(page.get_by_test_id("batch-summary")).to_have_text(re.compile(r"^2 of 2 stored\.$"), timeout=120_000)
    statuses = page.get_by_test_id("batch-status").all_text_contents()
    new_ids = [int(re.search(r"study (\d+)", s).group(1)) for s in statuses]
    for study_id in new_ids:
        expect(page.get_by_test_id("worklist-table").locator(f'[data-study-id="{study_id}"]')).to_be_visible()
    shot(page, "worklist_03_batch_upload")
    from .test_e2e_web import AXE_JS, _axe_violations

    if AXE_JS.is_file():  # no serious or critical WCAG A/AA problem, with both tables and the batch list showing
        assert _axe_violations(page) == []
    assert not [e for e in page_errors if "pageerror" in e], page_errors
