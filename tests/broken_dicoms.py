"""DICOM files with broken pixel tags, built with pydicom from the committed sample radiograph.

Each is a valid, readable DICOM file whose pixel data are fine but whose tags describing how to show
them are not: the decoder must refuse each with its own message, never crash.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "NIH_CR_chest_PA_jpeg_baseline.dcm"


def base_dataset() -> Dataset:
    """The sample chest CR, downscaled to 128x128 and stored uncompressed as 12-bit MONOCHROME2."""
    ds = pydicom.dcmread(SAMPLE)
    arr = ds.pixel_array[::8, ::8].astype(np.uint16) * 16
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelData = arr.tobytes()
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def palette_without_lut() -> bytes:
    ds = base_dataset()
    ds.PhotometricInterpretation = "PALETTE COLOR"
    return to_bytes(ds)


def modality_lut_without_data() -> bytes:
    ds = base_dataset()
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.ModalityLUTType = "OD"
    ds.ModalityLUTSequence = Sequence([item])
    return to_bytes(ds)


def rescale_slope_not_a_number() -> bytes:
    ds = base_dataset()
    ds.RescaleSlope, ds.RescaleIntercept = "7.25", "0"
    data = to_bytes(ds)  # pydicom will not write "abc" as a DS: patch the bytes of the written file
    assert data.count(b"7.25") == 1
    return data.replace(b"7.25", b"abc ")


def voi_lut_shorter_than_its_descriptor() -> bytes:
    ds = base_dataset()
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])  # LUT Descriptor: 4096 entries
    item.add_new(0x00283006, "US", list(range(100)))  # LUT Data: only 100
    ds.VOILUTSequence = Sequence([item])
    return to_bytes(ds)


BROKEN: dict[str, tuple[Callable[[], bytes], str]] = {
    "palette-without-lut": (palette_without_lut, "palette colour lookup table"),
    "modality-lut-without-data": (modality_lut_without_data, "Modality LUT Sequence"),
    "rescale-slope-abc": (rescale_slope_not_a_number, "Rescale Slope"),
    "voi-lut-too-short": (voi_lut_shorter_than_its_descriptor, "VOI LUT Sequence"),
}
"""Case name -> (builder, words the refusal message must contain)."""
