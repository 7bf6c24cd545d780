"""The clinician's story in a real browser, against the real server and a real trained run."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from .e2e_files import ARTIFACTS, CHILD_AGE_YEARS, SAMPLES, child_birth_date, pdf_contains

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def _nav(page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _overflowing(page) -> list[str]:
    """Elements that stick out past the viewport's right edge (empty when the page fits a phone)."""
    return page.evaluate(
        """() => {
            if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
            const out = [];
            for (const el of document.querySelectorAll("body *")) {
                const r = el.getBoundingClientRect();
                if (r.width && r.right > window.innerWidth + 1)
                    out.push(`${el.tagName.toLowerCase()}.${el.className}: ${(el.textContent || "").slice(0, 40)}`);
            }
            return out.length ? out.slice(-5) : ["(document wider than the viewport)"];
        }"""
    )


def _img_loaded(page, alt: str) -> None:
    page.wait_for_function(
        "alt => [...document.querySelectorAll('img')].some(i => i.alt === alt && i.complete && i.naturalWidth > 0)",
        arg=alt,
    )


def _fill_patient(page, name: str, mrn: str) -> None:
    page.get_by_label("Patient name").fill(name)
    page.get_by_label("Patient ID (MRN)").fill(mrn)
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Birth date").fill(child_birth_date())
    page.get_by_label("Referring doctor").fill("Dr. Okafor")
    page.get_by_label("Symptoms and notes").fill("Fever for 3 days, cough, fast breathing")


def test_clinician_story(anon_page, page_errors, e2e_server, api, credentials, xray_image, shot):
    from playwright.sync_api import expect

    page = anon_page
    token = uuid.uuid4().hex[:6]
    name = f"Ada Story {token}"
    mrn = f"E2E-{token}"

    # Home: what the tool does, why, pneumonia, intended use.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pneumonia screening support")
    for heading in ("What the tool does", "Why use it", "Understanding pneumonia", "Intended use and its limits"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_test_id("service-status")).to_contain_text("Ready")
    shot(page, "01_home")

    # New examination: patient data needs a signed-in clinician, so sign in first and come back.
    _nav(page, "New examination").click()
    page.wait_for_url(re.compile(r"/login/\?next=%2Fexam%2F$"))
    page.get_by_label("Username").fill(credentials[0])
    page.get_by_label("Password").fill(credentials[1])
    shot(page, "01b_sign_in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/exam/$"))
    expect(page.get_by_test_id("signed-in-user")).to_contain_text(credentials[0])
    expect(page.get_by_role("heading", name="New examination")).to_be_visible()
    _fill_patient(page, name, mrn)
    page.get_by_label("Chest X-ray image").set_input_files(str(xray_image))
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    _img_loaded(page, "Preview of the chosen X-ray")
    shot(page, "02_exam_filled")
    page.get_by_role("button", name="Analyse X-ray").click()

    # Result.
    page.wait_for_url(re.compile(r"/study/\?id=\d+$"), timeout=120_000)
    study_id = int(re.search(r"id=(\d+)", page.url).group(1))
    expect(page.get_by_test_id("result-label")).to_have_text(re.compile(r"^(NORMAL|PNEUMONIA)$"))
    expect(page.get_by_test_id("result-probability")).to_have_text(re.compile(r"^[<>]?\d{1,3}\.\d{1,4}%$"))
    expect(page.get_by_role("meter", name="Probability of pneumonia")).to_be_visible()
    expect(page.get_by_test_id("threshold-marker")).to_be_attached()
    api_study = api.get(f"{e2e_server}/api/studies/{study_id}", timeout=10).json()
    assert page.get_by_test_id("result-label").inner_text() == api_study["prediction"]["label"]
    shown = page.get_by_test_id("result-probability").inner_text()
    assert abs(float(shown.strip("<>%")) - api_study["prediction"]["probability"] * 100) <= 0.1, shown
    expect(page.get_by_test_id("model-version")).to_have_text(api_study["prediction"]["model_version"])
    heatmap = page.get_by_alt_text("Heatmap overlay")
    expect(heatmap).to_be_visible()
    _img_loaded(page, "Heatmap overlay")
    _img_loaded(page, "Chest X-ray")
    page.get_by_label("Heatmap opacity").fill("80")
    expect(heatmap).to_have_css("opacity", "0.8")
    shot(page, "03_result")
    page.get_by_role("switch", name="Show heatmap").uncheck()
    expect(heatmap).to_be_hidden()
    page.get_by_role("switch", name="Show heatmap").check()
    expect(heatmap).to_be_visible()
    page.set_viewport_size(PHONE)
    assert not _overflowing(page), ("the result page scrolls sideways at a phone's width", _overflowing(page))
    shot(page, "03_result_phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Report.
    page.get_by_role("link", name="Open the report").click()
    page.wait_for_url(re.compile(rf"/report/\?id={study_id}$"))
    expect(page.get_by_role("heading", name="Chest X-ray screening report")).to_be_visible()
    expect(page.get_by_test_id("report-patient")).to_contain_text(name)
    expect(page.get_by_test_id("report-patient")).to_contain_text(mrn)
    expect(page.get_by_test_id("report-notice")).to_contain_text(re.compile("clinician", re.IGNORECASE))
    expect(page.get_by_test_id("model-version")).not_to_be_empty()
    _img_loaded(page, "Heatmap overlay")
    shot(page, "04_report")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Download PDF")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    shot(page, "04_report_print")
    page.emulate_media(media="screen")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    pdf_path = ARTIFACTS / "04_report.pdf"
    download_info.value.save_as(pdf_path)
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-"), pdf[:40]
    assert pdf_contains(pdf, name), "the downloaded PDF does not hold the patient's name"

    # Patients: find the patient, open their page, reach the study again.
    _nav(page, "Patients").click()
    page.wait_for_url(re.compile(r"/patients/"))
    page.get_by_label("Search patients").fill(mrn)
    expect(page.get_by_test_id("patients-count")).to_have_text(re.compile(r"^1 patient matching"))
    row_link = page.get_by_role("link", name=name)
    expect(row_link).to_be_visible()
    shot(page, "05_patients")
    page.get_by_label("Search patients").fill(name)
    expect(row_link).to_be_visible()
    row_link.click()
    page.wait_for_url(re.compile(r"/patient/\?id=\d+$"))
    expect(page.get_by_test_id("patient-name")).to_have_text(name)
    expect(page.get_by_role("link", name=f"Result of study {study_id}")).to_be_visible()
    expect(page.get_by_role("link", name=f"Report of study {study_id}")).to_be_visible()
    shot(page, "06_patient")
    page.get_by_role("link", name=f"Result of study {study_id}").click()
    page.wait_for_url(re.compile(rf"/study/\?id={study_id}$"))
    expect(page.get_by_test_id("result-label")).to_be_visible()

    # A follow-up X-ray for the same patient, from their page.
    page.go_back()
    page.wait_for_url(re.compile(r"/patient/\?id=\d+$"))
    patient_url = page.url
    page.get_by_role("link", name="Add an X-ray for this patient").click()
    page.wait_for_url(re.compile(r"/exam/\?patient=\d+$"))
    expect(page.get_by_role("heading", name=f"New examination for {name}")).to_be_visible()
    expect(page.get_by_label("Patient name")).to_have_count(0)
    page.get_by_label("Chest X-ray image").set_input_files(str(xray_image))
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    shot(page, "06b_followup_exam")
    page.get_by_role("button", name="Analyse X-ray").click()
    page.wait_for_url(re.compile(r"/study/\?id=\d+$"), timeout=120_000)
    followup_id = int(re.search(r"id=(\d+)", page.url).group(1))
    assert followup_id != study_id
    page.goto(patient_url)
    expect(page.get_by_role("link", name=f"Result of study {followup_id}")).to_be_visible()
    expect(page.get_by_role("link", name=f"Result of study {study_id}")).to_be_visible()

    assert not page_errors, page_errors


def test_photograph_is_refused_and_details_are_kept(page, photograph, shot):
    from playwright.sync_api import expect

    token = uuid.uuid4().hex[:6]
    name = f"Ben Refused {token}"
    page.goto("/exam/")
    _fill_patient(page, name, f"E2E-R-{token}")
    page.get_by_label("Chest X-ray image").set_input_files(str(photograph))
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    # /api/inspect's cheap checks already warn before the upload.
    expect(page.get_by_test_id("inspect-warning")).to_contain_text("photograph")
    page.get_by_role("button", name="Analyse X-ray").click()

    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_be_visible(timeout=60_000)
    expect(refusal).to_have_attribute("role", "alert")
    expect(page.get_by_test_id("refusal-reason")).to_contain_text("photograph")
    expect(page.get_by_test_id("refusal-message")).not_to_be_empty()
    assert re.search(r"/exam/$", page.url)
    expect(page.get_by_label("Patient name")).to_have_value(name)
    shot(page, "07_refusal")

    page.get_by_role("button", name="Try another image").click()
    expect(refusal).to_be_hidden()
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_hidden()
    expect(page.get_by_label("Patient name")).to_have_value(name)
    expect(page.get_by_role("button", name="Browse files…")).to_be_focused()


def test_known_mrn_adds_the_xray_to_the_existing_patient(page, e2e_server, api, xray_image, shot):
    from playwright.sync_api import expect

    token = uuid.uuid4().hex[:6]
    mrn = f"E2E-D-{token}"
    body = {"name": f"Dee Existing {token}", "mrn": mrn, "age_years": CHILD_AGE_YEARS}
    existing = api.post(f"{e2e_server}/api/patients", json=body, timeout=10)
    assert existing.status_code == 201, existing.text
    page.goto("/exam/")
    _fill_patient(page, f"Dee Typed {token}", mrn)
    page.get_by_label("Chest X-ray image").set_input_files(str(xray_image))
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    page.get_by_role("button", name="Analyse X-ray").click()
    expect(page.get_by_test_id("api-error-message")).to_contain_text(mrn)
    expect(page.get_by_test_id("error-mrn")).to_be_visible()
    shot(page, "13_duplicate_mrn")
    page.get_by_role("button", name="Add the X-ray to the existing patient").click()
    page.wait_for_url(re.compile(r"/study/\?id=\d+$"), timeout=120_000)
    study_id = int(re.search(r"id=(\d+)", page.url).group(1))
    expect(page.get_by_role("link", name=f"Dee Existing {token}")).to_be_visible()
    patient = api.get(f"{e2e_server}/api/patients/{existing.json()['id']}", timeout=10).json()
    assert [s["id"] for s in patient["studies"]] == [study_id]


def test_empty_form_shows_each_fields_error(page, shot):
    from playwright.sync_api import expect

    page.goto("/exam/")
    page.get_by_role("button", name="Analyse X-ray").click()
    for field in ("name", "mrn", "sex", "birth_date", "image"):
        expect(page.get_by_test_id(f"error-{field}")).to_be_visible()
        expect(page.get_by_test_id(f"error-{field}")).not_to_be_empty()
    for label in ("Patient name", "Patient ID (MRN)", "Sex", "Birth date"):
        expect(page.get_by_label(label)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Patient name")).to_be_focused()
    expect(page.get_by_test_id("form-summary")).to_contain_text("5 details need attention")
    page.get_by_label("Age (years)").fill("131")
    expect(page.get_by_test_id("error-age_years")).to_contain_text("between 0 and 130")
    shot(page, "08_empty_form_errors")
    page.set_viewport_size(PHONE)
    assert not _overflowing(page), ("the exam form scrolls sideways at a phone's width", _overflowing(page))
    shot(page, "08_empty_form_errors_phone")


def test_dicom_upload_prefills_the_patient(page, dicom_file, shot):
    from playwright.sync_api import expect

    page.goto("/exam/")
    page.get_by_label("Referring doctor").fill("Dr. Typed")
    page.get_by_label("Chest X-ray image").set_input_files(str(dicom_file))
    expect(page.get_by_label("Patient name")).to_have_value("Jane Doe", timeout=60_000)
    expect(page.get_by_label("Patient ID (MRN)")).to_have_value("DCM-E2E-1")
    expect(page.get_by_label("Sex")).to_have_value("female")
    expect(page.get_by_label("Birth date")).to_have_value("2020-02-29")
    expect(page.get_by_label("Referring doctor")).to_have_value("Dr. Typed")
    expect(page.get_by_test_id("prefill-status")).to_contain_text("Filled in from the DICOM header")
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    expect(page.get_by_test_id("dicom-tags")).to_contain_text("DX")
    shot(page, "09_dicom_prefill")


def test_sample_dicom_prefills_only_untyped_fields(page, e2e_server, api, shot):
    """The repo's real (anonymised) NIH DICOM: its tags fill the empty fields, not the typed ones."""
    from playwright.sync_api import expect

    sample = SAMPLES / "NIH_CR_chest_PA_jpeg_baseline.dcm"
    if not sample.is_file():
        pytest.skip(f"{sample.relative_to(SAMPLES.parent)} is not in the repo")
    with open(sample, "rb") as fh:
        tags = api.post(f"{e2e_server}/api/inspect", files={"image": (sample.name, fh)}, timeout=60).json()["dicom"]
    page.goto("/exam/")
    page.get_by_label("Patient name").fill("Typed Name")
    page.get_by_label("Chest X-ray image").set_input_files(str(sample))
    expect(page.get_by_label("Patient ID (MRN)")).to_have_value(tags["patient_id"], timeout=60_000)
    expect(page.get_by_label("Patient name")).to_have_value("Typed Name")
    if tags.get("sex") in ("female", "male", "other"):
        expect(page.get_by_label("Sex")).to_have_value(tags["sex"])
    expect(page.get_by_test_id("dicom-tags")).to_contain_text(tags["modality"])
    _img_loaded(page, "Preview of the chosen X-ray")
    shot(page, "09_dicom_sample_prefill")


def test_model_card(page, e2e_server, shot):
    from playwright.sync_api import expect

    card = requests.get(f"{e2e_server}/api/model", timeout=10).json()
    page.goto("/")
    _nav(page, "Model").click()
    page.wait_for_url(re.compile(r"/model/$"))
    expect(page.get_by_role("heading", name="Model card")).to_be_visible()
    expect(page.get_by_test_id("model-version")).to_have_text(card["model_version"])
    if card.get("metrics", {}).get("test"):
        expect(page.get_by_test_id("metrics-table")).to_contain_text("95% CI")
        expect(page.get_by_test_id("metrics-table")).to_contain_text("Sensitivity")
    for key, alt in (("roc_curve", "ROC curve"), ("confusion_matrix", "Confusion matrix")):
        if key in (card.get("figures") or {}):
            page.get_by_alt_text(alt, exact=True).scroll_into_view_if_needed()
            _img_loaded(page, alt)
    shot(page, "10_model")
    page.set_viewport_size(PHONE)
    assert not _overflowing(page), ("the model card scrolls sideways at a phone's width", _overflowing(page))


def test_age_outside_the_population_is_warned_before_upload(page, e2e_server, shot):
    """Typing an age outside the run's intended population warns at once, in plain words, before any upload;
    the model card shows that population."""
    from playwright.sync_api import expect

    card = requests.get(f"{e2e_server}/api/model", timeout=10).json()
    pop = card.get("intended_population")
    if not pop:
        pytest.skip("this run's model card states no intended_population (a run made before issue 10)")
    low, high = int(pop["age_min_years"]), int(pop["age_max_years"])
    page.goto("/exam/")
    age = page.get_by_label("Age (years)")
    age.fill(str(high + 1))
    warning = page.get_by_test_id("population-warning")
    expect(warning).to_contain_text(f"aged {low}–{high} years; this patient is {high + 1} years old")
    expect(warning).to_contain_text("Read the film without PneumoScan")
    assert not _axe_violations(page), _axe_violations(page)
    shot(page, "14_population_warning")
    age.fill(str(low))
    expect(warning).to_be_hidden()

    page.goto("/model/")
    expect(page.get_by_test_id("population-ages")).to_contain_text(f"{low} to {high} years")


def test_api_errors_are_shown_verbatim(page, e2e_server, api, shot):
    from playwright.sync_api import expect

    r = api.get(f"{e2e_server}/api/studies/987654321", timeout=10)
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    page.goto("/study/?id=987654321")
    expect(page.get_by_test_id("api-error-message")).to_have_text(message)
    expect(page.get_by_test_id("api-error")).to_have_attribute("role", "alert")
    shot(page, "11_api_error")
    page.goto("/report/?id=abc")
    expect(page.get_by_text("No study chosen")).to_be_visible()


def test_keyboard_only_examination(page, xray_image, shot):
    """Skip link, form fields, the file chooser and the submit button all work from the keyboard."""
    from playwright.sync_api import expect

    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Start a new examination")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/exam/$"))

    token = uuid.uuid4().hex[:6]
    # Listen before any key press: Playwright intercepts file choosers from the first listener on,
    # and a chooser opened by a key press can come before expect_file_chooser() has set that up.
    choosers = []
    page.on("filechooser", lambda fc: (choosers.append(fc), fc.set_files(str(xray_image))))
    page.get_by_label("Patient name").focus()
    page.keyboard.type(f"Kim Keys {token}")
    page.keyboard.press("Tab")
    page.keyboard.type(f"E2E-K-{token}")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Sex")).to_be_focused()
    page.get_by_label("Sex").select_option("unknown")  # a native select's popup is not scriptable by keys
    page.keyboard.press("Tab")
    expect(page.get_by_label("Birth date")).to_be_focused()
    page.get_by_label("Age (years)").focus()  # the date input's day/month/year parts are tab stops of their own
    page.keyboard.type(str(CHILD_AGE_YEARS))

    browse = page.get_by_role("button", name="Browse files…")
    browse.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_alt_text("Preview of the chosen X-ray")).to_be_visible()
    assert len(choosers) == 1
    page.get_by_role("button", name="Analyse X-ray").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/study/\?id=\d+$"), timeout=120_000)
    expect(page.get_by_test_id("result-label")).to_be_visible()
    page.get_by_role("switch", name="Show heatmap").focus()
    page.keyboard.press("Space")
    expect(page.get_by_alt_text("Heatmap overlay")).to_be_hidden()
    shot(page, "12_keyboard_result")


AXE_JS = ARTIFACTS.parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def _axe_violations(page) -> list[str]:
    """Serious and critical WCAG 2.x A/AA violations axe-core finds on the page as it stands."""
    # Evaluated over the DevTools protocol: the page's CSP would (rightly) refuse an injected <script>.
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate(
        """async () => {
            const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return r.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
        }"""
    )
    return result


def test_pages_pass_axe(page, e2e_server, api, xray_image):
    """axe-core (from web/node_modules) finds no serious or critical WCAG A/AA problem on any page."""
    from playwright.sync_api import expect

    if not AXE_JS.is_file():
        pytest.skip("web/node_modules/axe-core is missing (cd web && npm ci)")
    with open(xray_image, "rb") as fh:
        study = api.post(f"{e2e_server}/api/studies", files={"image": (xray_image.name, fh)}, timeout=120).json()
    problems: dict[str, list[str]] = {}
    for path, ready in [
        ("/", lambda: expect(page.get_by_test_id("service-status")).to_contain_text("Ready")),
        ("/exam/", lambda: expect(page.get_by_label("Patient name")).to_be_visible()),
        (f"/study/?id={study['id']}", lambda: expect(page.get_by_test_id("result-label")).to_be_visible()),
        (f"/report/?id={study['id']}", lambda: expect(page.get_by_test_id("report-notice")).to_be_visible()),
        ("/patients/", lambda: expect(page.get_by_test_id("patients-count")).not_to_be_empty()),
        ("/model/", lambda: expect(page.get_by_test_id("metrics-table")).to_be_visible()),
        ("/login/", lambda: expect(page.get_by_label("Username")).to_be_visible()),
    ]:
        page.goto(path)
        ready()
        found = _axe_violations(page)
        if found:
            problems[path] = found
    # The exam form with every error showing, too.
    page.goto("/exam/")
    page.get_by_role("button", name="Analyse X-ray").click()
    expect(page.get_by_test_id("error-name")).to_be_visible()
    if found := _axe_violations(page):
        problems["/exam/ (errors shown)"] = found
    assert not problems, problems


def test_sign_in_guards_patient_data(anon_page, credentials, shot):
    """Signed out, patient pages send you to sign in (wrong password: the server's words), then back."""
    from playwright.sync_api import expect

    page = anon_page
    page.goto("/patients/?q=Ada")
    page.wait_for_url(re.compile(r"/login/\?next=%2Fpatients%2F%3Fq%3DAda$"))
    expect(_nav(page, "Patients")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Enter your username.")).to_be_visible()
    page.get_by_label("Username").fill(credentials[0])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text(re.compile("password", re.IGNORECASE))
    expect(page.get_by_label("Password")).to_have_value("")
    shot(page, "14_sign_in_refused")
    page.get_by_label("Password").fill(credentials[1])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/patients/\?q=Ada$"))
    expect(page.get_by_label("Search patients")).to_have_value("Ada")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/\?next="))
    page.goto("/model/")  # public pages stay open
    expect(page.get_by_role("heading", name="Model card")).to_be_visible()


CSP_PROBE = """
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation",
        e => window.__cspViolations.push(
            `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


def test_every_page_works_under_its_content_security_policy(page, page_errors, e2e_server, api, xray_image):
    """The strict CSP (inline scripts only by hash, no inline <style>, same-origin everything) breaks nothing:
    each page hydrates, fetches the API and shows its images, with no violation reported."""
    from playwright.sync_api import expect

    with open(xray_image, "rb") as fh:
        study = api.post(f"{e2e_server}/api/studies", files={"image": (xray_image.name, fh)}, timeout=120).json()
    page.context.add_init_script(CSP_PROBE)
    violations: dict[str, list[str]] = {}
    for path, ready in [
        ("/", lambda: expect(page.get_by_test_id("service-status")).to_contain_text("Ready")),
        ("/exam/", lambda: expect(page.get_by_label("Patient name")).to_be_visible()),
        (f"/study/?id={study['id']}", lambda: _img_loaded(page, "Chest X-ray")),
        (f"/report/?id={study['id']}", lambda: _img_loaded(page, "Heatmap overlay")),
        ("/patients/", lambda: expect(page.get_by_test_id("patients-count")).not_to_be_empty()),
        ("/model/", lambda: expect(page.get_by_test_id("metrics-table")).to_be_visible()),
        ("/login/", lambda: expect(page.get_by_label("Username")).to_be_visible()),
        ("/no-such-page/", lambda: page.wait_for_load_state("networkidle")),
    ]:
        response = page.goto(path)
        csp = response.headers["content-security-policy"]
        assert "'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], csp
        assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
        ready()
        page.wait_for_load_state("networkidle")
        if found := page.evaluate("window.__cspViolations"):
            violations[path] = found
    # Client-side navigation (no new document, so the first page's policy holds) works too.
    page.goto("/")
    _nav(page, "Model").click()
    expect(page.get_by_test_id("metrics-table")).to_be_visible()
    assert not violations, violations
    assert not [e for e in page_errors if "Content Security Policy" in e or "Refused" in e], page_errors
