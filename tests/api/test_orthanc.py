"""End to end against a real PACS: Debian's Orthanc (with its DICOMweb plugin) and a real
``pneumoscan serve`` with its DICOM receiver and sender, on free ports, from temporary folders.

1. A committed chest X-ray (a Kermany sample wrapped as DICOM, a 4-year-old) is stored in Orthanc
   through its REST API.
2. Orthanc is asked to C-STORE it to PneumoScan's receiver.
3. PneumoScan shows the study with its prediction.
4. The SR, the heatmap and the PDF come back into Orthanc, sent by PneumoScan; the SR read back from
   Orthanc parses with highdicom and passes dciodvfy.
The same round trip runs over STOW-RS from Orthanc's DICOMweb side.

Skips, and says why, when the ``Orthanc`` binary is missing (apt-get install orthanc orthanc-dicomweb).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from dicom_files import dciodvfy_errors, sample_dicom, sr_values

REPO = Path(__file__).resolve().parents[2]
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float = 60.0, every: float = 0.5):
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Orthanc:
    url: str
    dicom_port: int
    log: Path


@dataclass
class PneumoScan:
    url: str
    dicom_port: int
    token: str
    log: Path

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {name: free_port() for name in ("orthanc_http", "orthanc_dicom", "api", "scp")}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, ports) -> Iterator[Orthanc]:
    exe = shutil.which("Orthanc")
    if exe is None:
        pytest.skip("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb dicom3tools)")
    root = tmp_path_factory.mktemp("orthanc")
    # docs/orthanc/orthanc.json as written, on this test's folders and free ports
    config = json.loads((REPO / "docs" / "orthanc" / "orthanc.json").read_text())
    config.update(StorageDirectory=str(root / "db"), IndexDirectory=str(root / "db"),
                  HttpPort=ports["orthanc_http"], DicomPort=ports["orthanc_dicom"])
    config["DicomModalities"]["pneumoscan"][2] = ports["scp"]
    config["DicomWeb"]["Servers"]["pneumoscan"]["Url"] = f"http://127.0.0.1:{ports['api']}/dicomweb/"
    config["Plugins"] = [p for p in config["Plugins"] if Path(p).is_file()]
    (root / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = root / "orthanc.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, str(root / "orthanc.json")], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ports['orthanc_http']}"
    try:
        wait_for(lambda: requests.get(f"{url}/system", timeout=2).ok, f"Orthanc to start (log: {log})", 30)
        yield Orthanc(url, ports["orthanc_dicom"], log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pneumoscan(*args: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "pneumoscan", *args], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def pneumoscan(tmp_path_factory, ports, orthanc) -> Iterator[PneumoScan]:
    run = REPO / "runs" / "default"
    if not (run / "checkpoint.pt").is_file():
        pytest.skip(f"no trained run at {run}")
    data = tmp_path_factory.mktemp("pneumoscan-data")
    env = {**os.environ, "PNEUMOSCAN_DATA_DIR": str(data), "PNEUMOSCAN_PORT": str(ports["api"]),
           "PNEUMOSCAN_WEB_DIR": str(data / "no-web"), "PNEUMOSCAN_DICOM_PORT": str(ports["scp"]),
           "PNEUMOSCAN_DICOM_ALLOWED_AETS": "ORTHANC",
           "PNEUMOSCAN_DICOM_DESTINATION": f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
           "PNEUMOSCAN_DICOM_SEND_SECONDS": "1", "PNEUMOSCAN_DICOM_RETRY_SECONDS": "2",
           "PYTHONPATH": str(REPO / "src")}
    env.pop("DATABASE_URL", None)
    log = data / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pneumoscan", "serve", str(run)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ports['api']}"
    try:
        wait_for(lambda: requests.get(f"{url}/api/health", timeout=2).ok, f"pneumoscan serve (log: {log})", 90)
        _pneumoscan("users", "create", "pacs-clinician", "--role", "clinician", env=env)
        token = _pneumoscan("users", "token", "pacs-clinician", "--name", "orthanc e2e", env=env)

        def scp_up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", ports["scp"])) == 0

        wait_for(scp_up, f"the DICOM receiver on port {ports['scp']} (log: {log})", 90)
        yield PneumoScan(url, ports["scp"], token, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _orthanc_instances_of_study(orthanc: Orthanc, study_uid: str) -> list[dict]:
    found = requests.post(f"{orthanc.url}/tools/find", json={"Level": "Instance", "Expand": True,
                                                             "Query": {"StudyInstanceUID": study_uid}}, timeout=10)
    found.raise_for_status()
    return found.json()


def _results_back_in_orthanc(orthanc: Orthanc, study_uid: str) -> dict[str, str] | None:
    """SOP class name -> Orthanc instance id of PneumoScan's objects in the study, once all three are there."""
    from pydicom.uid import UID

    kinds = {}
    for inst in _orthanc_instances_of_study(orthanc, study_uid):
        tags = requests.get(f"{orthanc.url}/instances/{inst['ID']}/simplified-tags", timeout=10).json()
        if tags.get("Manufacturer") == "PneumoScan":
            kinds[UID(tags["SOPClassUID"]).name] = inst["ID"]
    wanted = {"Comprehensive 3D SR Storage", "Secondary Capture Image Storage", "Encapsulated PDF Storage"}
    return kinds if wanted <= set(kinds) else None


def _check_sr_from_orthanc(orthanc: Orthanc, instance_id: str, prediction: dict, tmp_path: Path) -> None:
    import highdicom as hd
    from pydicom import dcmread

    data = requests.get(f"{orthanc.url}/instances/{instance_id}/file", timeout=30).content
    sr = hd.sr.Comprehensive3DSR.from_dataset(dcmread(io.BytesIO(data)))
    assert sr.VerificationFlag == "UNVERIFIED"
    group = sr.content.get_image_measurement_groups()[0]  # highdicom reads the TID 1500 tree back
    probability = next(m for m in group.get_measurements() if m.name.meaning.startswith("Probability"))
    assert probability.value == pytest.approx(prediction["probability"], abs=1e-6)
    assert sr_values(sr)["Pneumonia"] == ("Present" if prediction["label"] == "PNEUMONIA" else "Absent")
    assert dciodvfy_errors(data, tmp_path) == []


def test_an_image_sent_by_orthanc_comes_back_as_sr_heatmap_and_pdf(orthanc, pneumoscan, tmp_path):
    from pydicom import dcmread

    xray = sample_dicom("person1946_bacteria_4874.jpeg", patient_id="MRN-ORTHANC-1", patient_name="Pacs^Kid",
                        patient_age="004Y")
    study_uid = str(dcmread(io.BytesIO(xray)).StudyInstanceUID)
    stored = requests.post(f"{orthanc.url}/instances", data=xray, timeout=30)  # 1. into the PACS
    assert stored.ok, stored.text
    sent = requests.post(f"{orthanc.url}/modalities/pneumoscan/store", data=stored.json()["ID"], timeout=120)  # 2.
    assert sent.ok, f"{sent.status_code} {sent.text}; PneumoScan log: {pneumoscan.log}"

    items = pneumoscan.get("/api/worklist").json()["items"]  # 3. the study, with its prediction
    study = next(it for it in items if (it["dicom_tags"] or {}).get("patient_id") == "MRN-ORTHANC-1")
    assert study["source"] == "dicom" and study["refusal"] is None
    assert study["prediction"]["label"] == "PNEUMONIA" and study["patient"]["mrn"] == "MRN-ORTHANC-1"

    kinds = wait_for(lambda: _results_back_in_orthanc(orthanc, study_uid),  # 4. results back in the PACS
                     f"SR, heatmap and PDF in Orthanc (PneumoScan log: {pneumoscan.log})", 60)
    _check_sr_from_orthanc(orthanc, kinds["Comprehensive 3D SR Storage"], study["prediction"], tmp_path)
    shown = wait_for(lambda: next(it for it in pneumoscan.get("/api/worklist").json()["items"]
                                  if it["id"] == study["id"])["dicom_send"]["status"] == "sent", "status sent", 20)
    assert shown


def test_the_same_round_trip_over_stow_rs_from_orthancs_dicomweb_side(orthanc, pneumoscan, tmp_path):
    from pydicom import dcmread

    if not DICOMWEB_PLUGIN.is_file():
        pytest.skip("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")
    # the documented server entry, with the token pasted in (Orthanc's REST API updates it)
    server = json.loads((REPO / "docs" / "orthanc" / "orthanc.json").read_text())["DicomWeb"]["Servers"]["pneumoscan"]
    server["Url"] = f"{pneumoscan.url}/dicomweb/"
    server["HttpHeaders"]["Authorization"] = f"Bearer {pneumoscan.token}"
    assert requests.put(f"{orthanc.url}/dicom-web/servers/pneumoscan", json=server, timeout=10).ok
    xray = sample_dicom("person1951_bacteria_4882.jpeg", patient_id="MRN-ORTHANC-STOW", patient_age="003Y")
    study_uid = str(dcmread(io.BytesIO(xray)).StudyInstanceUID)
    instance = requests.post(f"{orthanc.url}/instances", data=xray, timeout=30).json()["ID"]
    stow = requests.post(f"{orthanc.url}/dicom-web/servers/pneumoscan/stow", json={"Resources": [instance]},
                         timeout=120)
    assert stow.ok, f"{stow.status_code} {stow.text}; PneumoScan log: {pneumoscan.log}"
    items = pneumoscan.get("/api/worklist").json()["items"]
    study = next(it for it in items if (it["dicom_tags"] or {}).get("patient_id") == "MRN-ORTHANC-STOW")
    assert study["source"] == "stow" and study["prediction"] is not None
    kinds = wait_for(lambda: _results_back_in_orthanc(orthanc, study_uid),
                     f"SR, heatmap and PDF in Orthanc (PneumoScan log: {pneumoscan.log})", 60)
    _check_sr_from_orthanc(orthanc, kinds["Comprehensive 3D SR Storage"], study["prediction"], tmp_path)
