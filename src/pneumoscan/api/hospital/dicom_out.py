"""A study's results as DICOM objects a PACS stores and shows beside the X-ray.

- ``structured_report``: a Comprehensive 3D SR following TID 1500 (Measurement Report), built with
  highdicom, as the IHE AI Results profile describes: the finding (pneumonia present or absent) as a
  qualitative evaluation, the probability and the threshold as measurements, the operating point
  among the algorithm's parameters, the model's name and version in the algorithm identification and
  in the Contributing Equipment Sequence, a reference to the source image, VerificationFlag
  UNVERIFIED (no person has verified it).
- ``heatmap_capture``: the Grad-CAM overlay as an RGB Secondary Capture image (highdicom ``SCImage``).
- ``encapsulated_pdf``: the PDF report as an Encapsulated PDF object (pydicom).

All three belong to the X-ray's own DICOM study (patient and study copied from it). For an image
uploaded as PNG or JPEG there is no DICOM study: one is made from the patient record, with a
StudyInstanceUID derived from the image's SHA-256, and the SR's evidence is the heatmap capture (the
only DICOM image of it). UIDs are derived from the study, the prediction and the object kind, so the
same result downloaded or sent twice is the same DICOM instance, and a PACS stores it once.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import (
    AlgorithmIdentification,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    TrackingIdentifier,
)
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pneumoscan.api.orm import Patient, PredictionRecord, Study

log = logging.getLogger(__name__)

MANUFACTURER = "PneumoScan"
SR_SERIES_NUMBER, SC_SERIES_NUMBER, PDF_SERIES_NUMBER = 9001, 9002, 9003

PNEUMONIA = Code("233604007", "SCT", "Pneumonia")
PRESENT = Code("52101004", "SCT", "Present")
ABSENT = Code("2667000", "SCT", "Absent")
CHEST_XRAY = Code("399208008", "SCT", "Plain chest X-ray")
PROBABILITY = Code("PROB", "99PNEUMOSCAN", "Probability of pneumonia (model output)")
THRESHOLD = Code("THRESHOLD", "99PNEUMOSCAN", "Decision threshold of the model")
NO_UNITS = Code("1", "UCUM", "no units")
ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_3D_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.34"
KINDS = {"sr": COMPREHENSIVE_3D_SR_STORAGE, "heatmap": SECONDARY_CAPTURE_STORAGE, "pdf": ENCAPSULATED_PDF_STORAGE}


def derived_uid(*parts: object) -> str:
    """A UID that is the same every time for the same parts (pydicom's root, hashed entropy)."""
    return generate_uid(entropy_srcs=["pneumoscan", *(str(p) for p in parts)])


@dataclass(frozen=True)
class ResultSource:
    """What the DICOM results are built from."""

    study: Study
    patient: Patient | None
    prediction: PredictionRecord
    reference: Dataset  # the X-ray's DICOM header, or one made for a PNG/JPEG upload
    reference_is_image: bool  # the reference is a real DICOM image the PACS may hold
    heatmap_png: bytes | None
    model_card: dict[str, Any]


def reference_dataset(study: Study, patient: Patient | None, original: Path | None) -> tuple[Dataset, bool]:
    """The source X-ray's DICOM header (no pixels), or a made-up one for a PNG/JPEG upload."""
    if study.format == "dicom" and original is not None and original.is_file():
        ds = dcmread(original, stop_before_pixels=True)
        if all(k in ds for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")):
            for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                            "StudyTime", "ReferringPhysicianName", "AccessionNumber", "StudyID"):
                if keyword not in ds:
                    setattr(ds, keyword, "")
            return ds, True
    uploaded = study.uploaded_at or dt.datetime.now(dt.UTC)
    ds = Dataset()
    ds.PatientName = _dicom_name(patient.name) if patient is not None else ""
    ds.PatientID = patient.mrn if patient is not None else f"PNEUMOSCAN-STUDY-{study.id}"
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient is not None and patient.birth_date else ""
    ds.PatientSex = {"female": "F", "male": "M", "other": "O"}.get(patient.sex if patient else "", "")
    ds.StudyInstanceUID = derived_uid("study", study.sha256, study.id)
    ds.StudyDate = uploaded.strftime("%Y%m%d")
    ds.StudyTime = uploaded.strftime("%H%M%S")
    ds.ReferringPhysicianName = (patient.referring_doctor or "") if patient is not None else ""
    ds.AccessionNumber = ""
    ds.StudyID = str(study.id)[:16]
    return ds, False


def _dicom_name(name: str) -> str:
    """"Jane Doe" -> "Doe^Jane" (the last word is taken as the family name)."""
    words = name.split()
    return f"{words[-1]}^{' '.join(words[:-1])}" if len(words) > 1 else f"{name.strip()}^"


def _contributing_equipment(src: ResultSource) -> hd.ContributingEquipment:
    return hd.ContributingEquipment(
        manufacturer=MANUFACTURER,
        purpose_of_reference=codes.DCM.ProcessingEquipment,
        manufacturer_model_name=str(src.model_card.get("architecture") or "PneumoScan model")[:64],
        software_versions=src.prediction.model_version[:64],
        device_serial_number=src.prediction.model_id.split(":", 1)[-1][:64],
        contribution_description="Pneumonia screening result (machine learning); not verified by a clinician",
    )


def _operating_point(src: ResultSource) -> str:
    point = src.model_card.get("operating_point") or {}
    return str(point.get("label") or src.model_card.get("threshold_rule") or "threshold from the model's run")


def heatmap_capture(src: ResultSource) -> Dataset:
    """The Grad-CAM overlay as an RGB Secondary Capture in the X-ray's study.

    Raises:
        LookupError: the study's prediction has no heatmap.
    """
    if not src.heatmap_png:
        raise LookupError(f"Study {src.study.id} has no heatmap.")
    pixels = np.asarray(Image.open(io.BytesIO(src.heatmap_png)).convert("RGB"), dtype=np.uint8)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=src.reference,
        pixel_array=pixels,
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=derived_uid("series", "heatmap", src.study.id, src.prediction.id),
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=derived_uid("heatmap", src.study.id, src.prediction.id),
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "F"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        contributing_equipment=[_contributing_equipment(src)],
    )
    sc.SeriesDescription = "PneumoScan heatmap (Grad-CAM) - not for diagnosis"
    sc.ImageComments = f"Grad-CAM of {src.prediction.heatmap_class or src.prediction.label}; {src.prediction.label} " \
        f"p={src.prediction.probability:.3f} (threshold {src.prediction.threshold:.3f})"[:10240]
    sc.BurnedInAnnotation = "NO"
    sc.Laterality = ""  # Type 2C: a chest is not a paired body part, so it is empty
    return sc


def structured_report(src: ResultSource) -> Comprehensive3DSR:
    """The TID 1500 Comprehensive 3D SR of the study's latest prediction."""
    pred = src.prediction
    evidence = src.reference if src.reference_is_image else heatmap_capture(src)
    algorithm = AlgorithmIdentification(
        name="PneumoScan",
        version=pred.model_version[:64],
        parameters=[f"threshold={pred.threshold:.4f}", f"operating point: {_operating_point(src)}"[:64]],
    )
    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=derived_uid("device", pred.model_id), name="PneumoScan", manufacturer_name=MANUFACTURER,
            model_name=pred.model_version[:64],
        ),
    )
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=derived_uid("finding", src.study.id, pred.id),
                                               identifier="Pneumonia screening"),
        finding_type=PNEUMONIA,
        algorithm_id=algorithm,
        qualitative_evaluations=[
            QualitativeEvaluation(PNEUMONIA, PRESENT if pred.label.upper() == "PNEUMONIA" else ABSENT),
        ],
        measurements=[
            Measurement(name=PROBABILITY, value=round(float(pred.probability), 6), unit=NO_UNITS,
                        algorithm_id=algorithm),
            Measurement(name=THRESHOLD, value=round(float(pred.threshold), 6), unit=NO_UNITS),
        ],
        source_images=[SourceImageForMeasurementGroup.from_source_image(evidence)],
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=device),
        procedure_reported=CHEST_XRAY,
        imaging_measurements=[group],
        title=codes.DCM.ImagingMeasurementReport,
    )
    sr = Comprehensive3DSR(
        evidence=[evidence],
        content=report,
        series_instance_uid=derived_uid("series", "sr", src.study.id, pred.id),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=derived_uid("sr", src.study.id, pred.id),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
        contributing_equipment=[_contributing_equipment(src)],
    )
    sr.SeriesDescription = "PneumoScan AI result - not verified"
    return sr


def encapsulated_pdf(src: ResultSource, pdf: bytes) -> Dataset:
    """The PDF report as an Encapsulated PDF instance in the X-ray's study."""
    now = dt.datetime.now(dt.UTC)
    ref = src.reference
    ds = Dataset()
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = derived_uid("pdf", src.study.id, src.prediction.id)
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "ReferringPhysicianName", "AccessionNumber", "StudyID"):
        setattr(ds, keyword, ref.get(keyword, ""))
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = derived_uid("series", "pdf", src.study.id, src.prediction.id)
    ds.SeriesNumber = PDF_SERIES_NUMBER
    ds.SeriesDescription = "PneumoScan report (PDF) - not verified"
    ds.Manufacturer = MANUFACTURER
    ds.ConversionType = "SYN"
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "PneumoScan pneumonia screening report"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "18748-4", "LN"
    concept.CodeMeaning = "Diagnostic imaging study"
    ds.ConceptNameCodeSequence = [concept]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.ContributingEquipmentSequence = [_contributing_equipment(src)]
    ds.file_meta = _file_meta(ds)
    return ds


def _file_meta(ds: Dataset):
    from pydicom.dataset import FileMetaDataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def to_bytes(ds: Dataset) -> bytes:
    """A DICOM Part 10 file of ``ds``."""
    if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = _file_meta(ds)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
