"""DICOM files for the tests: chest X-rays (synthetic or the committed Kermany samples) wrapped as DX
instances with patient tags, and ``dciodvfy`` (dicom3tools) to validate what PneumoScan writes."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthetic import make_xray

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation


def dicom_bytes(
    image: Image.Image | None = None,
    *,
    patient_id: str = "MRN-DCM-1",
    patient_name: str = "Doe^Jane",
    patient_age: str | None = "004Y",
    birth_date: str = "",
    sex: str = "F",
    study_date: str = "20260501",
    sop_instance_uid: str | None = None,
    modality: str = "DX",
    view_position: str = "PA",
    seed: int = 3,
    window: bool = True,
) -> bytes:
    """A valid DX chest PA instance (8-bit MONOCHROME2) of ``image`` (default: a synthetic X-ray).

    ``window``: add a window (center 128, width 256) that shows the pixels as stored; without it a
    viewer (and PneumoScan's decoder) stretches them to the full grey range.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if image is None:  # the API tests' synthetic X-ray (tests/api/api_helpers.xray)
        image = make_xray(np.random.default_rng(1000 + seed), False)
    pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_instance_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientSex = sex
    ds.PatientBirthDate = birth_date
    if patient_age is not None:
        ds.PatientAge = patient_age
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC-1"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ViewPosition = view_position
    ds.BodyPartExamined = "CHEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if window:  # shown as stored, not stretched to the full range: the tiny run's own pixels
        ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def sample_dicom(name: str = "person1946_bacteria_4874.jpeg", **tags) -> bytes:
    """A committed Kermany sample (a real pediatric chest X-ray) wrapped as DICOM."""
    return dicom_bytes(Image.open(SAMPLES / name), **tags)


def dciodvfy_errors(data: bytes, tmp_path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy prints for a DICOM file (skips the test when it is not installed)."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy is not installed (Debian package dicom3tools: apt-get install dicom3tools)")
    path = tmp_path / f"check-{abs(hash(data)) % 10**8}.dcm"
    path.write_bytes(data)
    run = subprocess.run([exe, "-new", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def sr_values(sr) -> dict:
    """Concept meaning -> value of every content item in the SR tree (code meaning or number)."""
    out: dict = {}

    def walk(items) -> None:
        for item in items:
            name = item.ConceptNameCodeSequence[0].CodeMeaning
            if item.ValueType == "CODE":
                out[name] = item.ConceptCodeSequence[0].CodeMeaning
            elif item.ValueType == "NUM":
                out[name] = float(item.MeasuredValueSequence[0].NumericValue)
            elif item.ValueType == "TEXT":
                out.setdefault(name, []).append(item.TextValue)
            walk(item.get("ContentSequence", []))

    walk(sr.ContentSequence)
    return out
