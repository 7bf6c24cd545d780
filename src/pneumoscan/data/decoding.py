"""Image intake: bytes from an upload -> an 8-bit PIL image plus what the file said about itself.

The format is decided by the content (magic bytes), never by the file name: PNG, JPEG and DICOM are
read; anything else is refused with a message that names what the file is and what to send instead.

- PNG / JPEG: 8- or 16-bit, grayscale, palette or RGB(A); EXIF orientation applied; 16-bit data are
  scaled from their own minimum..maximum to 0..255 (the same rule as ``transforms.to_rgb``).
- DICOM (pydicom; compressed transfer syntaxes through the pylibjpeg plugins): modality LUT
  (rescale slope/intercept), then the VOI LUT sequence or the first window centre/width, else the
  data's own range; MONOCHROME1 is inverted so that bone is white; 12-16-bit data end up 8-bit.
  The patient and study tags come back as ``DicomInfo`` so a form can be prefilled.

Every failure raises ``ImageDecodeError`` with a stable ``code`` (``empty_file``,
``unsupported_media_type``, ``unreadable_image``, ``no_pixel_data``, ``image_too_large``,
``image_too_small``) and a message that names the problem and the fix. The image dimensions are
checked from the header *before* any pixels are decoded, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS: int = 50_000_000
"""Largest image accepted (width x height): a 7000x7000 detector is 49 MP; 30000x30000 is a bomb."""
DEFAULT_MIN_SIDE: int = 32
"""Smallest accepted side in pixels: below this an image holds nothing a radiologist could read."""

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# Formats we recognise only to name them in the refusal message.
_OTHER_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"BM", 0, "a BMP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"\x00\x00\x00\x0cjP  ", 0, "a bare JPEG 2000 file"),
    (b"\xff\x4f\xff\x51", 0, "a bare JPEG 2000 codestream"),
)

_SEX = {"F": "female", "M": "male", "O": "other"}

_HEADER_READERS = {"png": PngImagePlugin.PngImageFile, "jpeg": JpegImagePlugin.JpegImageFile}
"""Pillow's own format readers: constructing one reads the header, not the pixels."""


class ImageDecodeError(ValueError):
    """An upload cannot be turned into an image.

    Attributes:
        code: a stable machine-readable reason (see the module docstring).
        message: plain words: what is wrong and what to do about it.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DicomInfo:
    """Patient and study tags of a DICOM file, in the shapes the patient form uses.

    Dates are ISO ``YYYY-MM-DD`` (or None when absent or malformed); ``patient_age`` is the raw DICOM
    age string (``nnnD/W/M/Y``); ``sex`` is one of
    ``female``, ``male``, ``other``, ``unknown``; ``patient_name`` reads "Given Family".
    """

    patient_name: str | None
    patient_id: str | None
    sex: str
    birth_date: str | None
    study_date: str | None
    modality: str | None
    view_position: str | None
    body_part: str | None
    photometric_interpretation: str | None
    bits_stored: int | None
    transfer_syntax: str | None
    patient_age: str | None = None  # DICOM AS, e.g. "004Y", "018M" (PatientAge)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecodedImage:
    """A decoded upload.

    Attributes:
        image: 8-bit PIL image, mode ``L`` (grayscale) or ``RGB`` (the file was in colour).
        format: ``png``, ``jpeg`` or ``dicom`` (from the content).
        width: width in pixels after EXIF orientation.
        height: height in pixels after EXIF orientation.
        bit_depth: bits per sample in the file (8, 12, 16, ...).
        dicom: the DICOM tags, or None for PNG/JPEG.
    """

    image: Image.Image
    format: str
    width: int
    height: int
    bit_depth: int
    dicom: DicomInfo | None = None


def sniff_format(data: bytes) -> str | None:
    """Return ``"png"``, ``"jpeg"`` or ``"dicom"`` from the first bytes, or None for anything else."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    # DICOM without the 128-byte preamble: starts with a group 0002 or 0008 element tag.
    if len(data) >= 8 and data[:2] in (b"\x02\x00", b"\x08\x00"):
        return "dicom"
    return None


def describe_content(data: bytes) -> str:
    """Name what the bytes look like, for refusal messages ("a GIF image", "a text file", ...)."""
    for magic, offset, name in _OTHER_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    head = data[:512]
    if head.lstrip().startswith((b"<svg", b"<?xml", b"<!DOCTYPE", b"<html")):
        return "an XML/HTML/SVG text file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a file of an unknown binary format"
    return "a text file"


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> DecodedImage:
    """Decode an uploaded PNG, JPEG or DICOM file.

    Args:
        data: the file's bytes.
        max_pixels: refuse images with more pixels than this (checked before decoding).
        min_side: refuse images whose shorter side is below this.

    Returns:
        The decoded image with its format, size, bit depth and (for DICOM) tags.

    Raises:
        ImageDecodeError: empty, not PNG/JPEG/DICOM, damaged, without pixel data, or too large/small.
    """
    if not data:
        raise ImageDecodeError(
            "empty_file",
            "The uploaded file is empty (0 bytes). Choose the X-ray file again and re-upload it.",
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageDecodeError(
            "unsupported_media_type",
            f"The uploaded file is {describe_content(data)}, not a PNG, JPEG or DICOM image "
            "(the type is read from the content, not the file name). Export the X-ray as PNG, JPEG or DICOM.",
        )
    if fmt == "dicom":
        return _decode_dicom(data, max_pixels=max_pixels, min_side=min_side)
    return _decode_raster(data, fmt, max_pixels=max_pixels, min_side=min_side)


def _check_size(width: int, height: int, max_pixels: int, min_side: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(
            "unreadable_image", f"The {what} says it is {width}x{height} pixels; the file is damaged."
        )
    if width * height > max_pixels:
        raise ImageDecodeError(
            "image_too_large",
            f"The {what} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels. Downscale the image "
            "(a chest X-ray needs at most about 3000x3000).",
        )
    if min(width, height) < min_side:
        raise ImageDecodeError(
            "image_too_small",
            f"The {what} is only {width}x{height} pixels; at least {min_side} pixels per side are needed. "
            "Upload the original-resolution X-ray.",
        )


def _decode_raster(data: bytes, fmt: str, *, max_pixels: int, min_side: int) -> DecodedImage:
    what = f"{fmt.upper()} image"
    try:
        # The plugin class reads the header only (IHDR / SOF), lazily: the size is checked before any
        # pixel is decoded, so a bomb costs nothing (Image.open would refuse it with a vaguer message).
        with _HEADER_READERS[fmt](io.BytesIO(data)) as im:
            _check_size(im.width, im.height, max_pixels, min_side, what)
            im.load()
            bit_depth = _bit_depth(im)
            im = ImageOps.exif_transpose(im)
            image = _to_8bit(im)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            "image_too_large", f"The {what} is too large to decode safely ({exc}). Downscale it."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(
            "unreadable_image",
            f"The {what} could not be decoded ({_short(exc)}); the file is damaged or incomplete. "
            "Export it again from the original and re-upload it.",
        ) from exc
    return DecodedImage(image=image, format=fmt, width=image.width, height=image.height, bit_depth=bit_depth)


def _bit_depth(im: Image.Image) -> int:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return 16
    if im.mode == "1":
        return 1
    return 8


def _to_8bit(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> ``L`` (grayscale) or ``RGB`` (colour), 8 bits per sample."""
    if im.mode in ("L", "RGB"):
        return im.copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(im, dtype=np.float64)), mode="L")
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    if im.mode in ("LA", "La", "PA"):
        return im.convert("L")
    if im.mode in ("1",):
        return im.convert("L")
    rgb = im.convert("RGB")
    arr = np.asarray(rgb)
    if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        return rgb.convert("L")
    return rgb


def _scale_to_uint8(arr: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Linear map ``[lo, hi]`` (default: the data's own range) -> 0..255, clipped; constant -> 0."""
    arr = np.asarray(arr, dtype=np.float64)
    lo = float(arr.min()) if lo is None else float(lo)
    hi = float(arr.max()) if hi is None else float(hi)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (arr - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# ----------------------------------------------------------------------------------------------- DICOM


def _decode_dicom(data: bytes, *, max_pixels: int, min_side: int) -> DecodedImage:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=data[128:132] != b"DICM")
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise ImageDecodeError(
            "unreadable_image",
            f"The DICOM file could not be read ({_short(exc)}); it is damaged or incomplete. "
            "Export it again from the PACS and re-upload it.",
        ) from exc
    with _dicom_tags("patient and study tags"):
        info = dicom_info(ds)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if len(ds) == 0 or ("Rows" in ds and "Columns" in ds):  # nothing read, or pixels cut off
            raise ImageDecodeError(
                "unreadable_image",
                "The DICOM file describes an image but its pixel data are missing or cut off; the file is "
                "damaged or incomplete. Export it again from the PACS and re-upload it.",
            )
        kind = str(ds.get("SOPClassUID", "")) and getattr(ds.SOPClassUID, "name", str(ds.SOPClassUID))
        raise ImageDecodeError(
            "no_pixel_data",
            f"The DICOM file holds no image (no Pixel Data element{f'; it is a {kind}' if kind else ''}). "
            "Upload the radiograph image object itself (modality CR or DX).",
        )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImageDecodeError(
            "unreadable_image",
            "The DICOM file lacks valid Rows/Columns tags; it is damaged. Export it again.",
        ) from exc
    _check_size(cols, rows, max_pixels, min_side, "DICOM image")
    if frames * rows * cols > 4 * max_pixels:
        raise ImageDecodeError(
            "image_too_large",
            f"The DICOM file holds {frames} frames of {cols}x{rows} pixels; upload a single radiograph.",
        )
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types: missing plugin, corrupt stream, bad tags
        raise ImageDecodeError(
            "unreadable_image",
            f"The DICOM pixel data could not be decoded ({_short(exc)}; transfer syntax "
            f"{info.transfer_syntax}). Export the image uncompressed or as JPEG and re-upload it.",
        ) from exc
    if frames > 1:
        log.info("DICOM has %d frames; using the first", frames)
        arr = arr[0]
    with _dicom_tags("the pixel description (Photometric Interpretation, Samples per Pixel, Bits Allocated)"):
        image = _dicom_image(arr, ds, (info.photometric_interpretation or "MONOCHROME2").upper())
        bit_depth = int(info.bits_stored or ds.get("BitsAllocated", 8) or 8)
    return DecodedImage(
        image=image, format="dicom", width=image.width, height=image.height, bit_depth=bit_depth, dicom=info
    )


_FIX = "Export the image again from the PACS (or ask for a plain MONOCHROME2 export) and re-upload it."


@contextmanager
def _dicom_tags(what: str) -> Iterator[None]:
    """Turn a failure while applying ``what`` (a group of DICOM tags) into a 422 that names them."""
    try:
        yield
    except ImageDecodeError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ImageDecodeError(
            "unreadable_image", f"The DICOM file's {what} cannot be applied ({_short(exc)}). {_FIX}"
        ) from exc


def _dicom_image(arr: np.ndarray, ds: Any, photometric: str) -> Image.Image:
    """The stored pixel array -> an 8-bit ``L`` or ``RGB`` image, as a viewer would show it."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 3 or arr.ndim == 3:
        # pydicom already converted YBR to RGB; colour DICOMs are 8-bit secondary captures.
        rgb = arr if arr.dtype == np.uint8 else _scale_to_uint8(arr)
        return Image.fromarray(np.ascontiguousarray(rgb[..., :3]), mode="RGB")
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        return Image.fromarray(dicom_grayscale(arr, ds), mode="L")
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        with _dicom_tags("palette colour lookup table (Red/Green/Blue Palette Color Lookup Table Descriptor and "
                         "Data, required for a PALETTE COLOR image)"):
            for colour in ("Red", "Green", "Blue"):
                _check_lut(ds, f"{colour}PaletteColorLookupTableDescriptor", f"{colour}PaletteColorLookupTableData",
                           segmented=f"Segmented{colour}PaletteColorLookupTableData")
            rgb = apply_color_lut(arr, ds)
        return Image.fromarray(_scale_to_uint8(rgb) if rgb.dtype != np.uint8 else rgb, mode="RGB")
    raise ImageDecodeError(
        "unreadable_image",
        f"The DICOM photometric interpretation {photometric!r} is not supported; export the image as "
        "MONOCHROME2, MONOCHROME1 or RGB.",
    )


def _check_lut(ds: Any, descriptor: str, data: str, segmented: str | None = None) -> None:
    """Raise ``ValueError`` unless ``ds`` holds a LUT descriptor and at least as many entries as it announces.

    pydicom applies a LUT by indexing it, so data shorter than the descriptor would only fail for some
    pixel values (or silently clip): this refuses such a file whatever its pixels are.
    """
    if descriptor not in ds:
        raise ValueError(f"no {descriptor}")
    values = list(ds[descriptor].value)
    if len(values) != 3:
        raise ValueError(f"{descriptor} has {len(values)} values, not 3")
    if segmented is not None and segmented in ds:
        return  # segmented data are expanded by pydicom, which checks them itself
    if data not in ds or ds[data].value is None:
        raise ValueError(f"no {data}")
    entries = int(values[0]) or 65536
    raw = ds[data].value
    itemsize = 2 if int(values[2]) > 8 or ds[data].VR in ("US", "SS", "OW") else 1
    have = len(raw) // itemsize if isinstance(raw, bytes | bytearray) else len(list(raw))
    if have < entries:
        raise ValueError(f"{data} holds {have} entries but {descriptor} announces {entries}")


def dicom_grayscale(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Stored grayscale values -> display values 0..255 (white = dense), as a viewer shows them.

    pydicom does each step as PS3.3 C.11 says: the modality LUT (sequence, else rescale slope/intercept),
    then the VOI LUT sequence or the first window (LINEAR, LINEAR_EXACT or SIGMOID), else the data's own
    range; MONOCHROME1 is inverted last. Each broken group of tags raises its own message.

    Args:
        arr: the 2-D stored pixel array.
        ds: the pydicom dataset it came from.

    Returns:
        A uint8 array of the same shape.

    Raises:
        ImageDecodeError: a modality LUT, rescale, VOI LUT or window tag that cannot be applied (422).
    """
    from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

    if "ModalityLUTSequence" in ds:
        with _dicom_tags("Modality LUT Sequence (each item needs an LUT Descriptor and LUT Data as long as it "
                         "announces)"):
            _check_lut(ds.ModalityLUTSequence[0], "LUTDescriptor", "LUTData")
            values = apply_modality_lut(arr, ds).astype(np.float64)
    else:
        with _dicom_tags("Rescale Slope / Intercept (both must be numbers)"):
            for keyword in ("RescaleSlope", "RescaleIntercept"):
                if keyword in ds and not np.isfinite(float(ds[keyword].value)):
                    raise ValueError(f"{keyword} is not a finite number")
            values = apply_modality_lut(arr, ds).astype(np.float64)
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        with _dicom_tags("VOI LUT Sequence (its LUT Data must be as long as its LUT Descriptor announces)"):
            item = ds.VOILUTSequence[0]
            _check_lut(item, "LUTDescriptor", "LUTData")
            out = np.asarray(apply_voi(values, ds), dtype=np.float64)
            lut_bits = int(item.LUTDescriptor[2])
            out8 = _scale_to_uint8(out, 0.0, float(2**lut_bits - 1)) if 1 <= lut_bits <= 16 else _scale_to_uint8(out)
    elif "WindowCenter" in ds and "WindowWidth" in ds and _usable_window(ds):
        with _dicom_tags("Window Center / Width"), np.errstate(over="ignore"):
            out = apply_windowing(values, ds)
            y_min, y_max = apply_windowing(np.array([-np.inf, np.inf]), ds)  # the window's output range
            out8 = _scale_to_uint8(out, y_min, y_max)
    else:
        out8 = _scale_to_uint8(values)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out8 = 255 - out8
    return out8


def _usable_window(ds: Any) -> bool:
    """False for a window a viewer would ignore (not a number, width <= 0): the data's own range is used."""
    center, width = _first_number(ds.get("WindowCenter")), _first_number(ds.get("WindowWidth"))
    return center is not None and width is not None and bool(np.isfinite(center) and np.isfinite(width)) and width > 0


def _first_number(value: Any) -> float | None:
    try:
        if isinstance(value, list | tuple) or hasattr(value, "__iter__") and not isinstance(value, str):
            value = list(value)[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def dicom_info(ds: Any) -> DicomInfo:
    """The patient/study tags of a dataset (absent or malformed tags become None)."""

    def text(keyword: str) -> str | None:
        value = ds.get(keyword)
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    def number(keyword: str) -> int | None:
        try:
            value = ds.get(keyword)
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    ts = None
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        ts = getattr(meta.TransferSyntaxUID, "name", str(meta.TransferSyntaxUID))
    return DicomInfo(
        patient_name=_person_name(ds.get("PatientName")),
        patient_id=text("PatientID"),
        sex=_SEX.get((text("PatientSex") or "").upper(), "unknown"),
        birth_date=_iso_date(text("PatientBirthDate")),
        study_date=_iso_date(text("StudyDate")),
        modality=(text("Modality") or "").upper() or None,
        view_position=(text("ViewPosition") or "").upper() or None,
        body_part=(text("BodyPartExamined") or "").upper() or None,
        photometric_interpretation=(text("PhotometricInterpretation") or "").upper() or None,
        bits_stored=number("BitsStored"),
        transfer_syntax=ts,
        patient_age=text("PatientAge"),
    )


def _person_name(value: Any) -> str | None:
    """DICOM PN ``Family^Given^Middle^Prefix^Suffix`` -> ``"Prefix Given Middle Family Suffix"``."""
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    parts = (raw.split("=")[0].split("^") + [""] * 5)[:5]
    family, given, middle, prefix, suffix = (p.strip() for p in parts)
    words = [w for w in (prefix, given, middle, family, suffix) if w]
    return " ".join(words) or None


def _iso_date(value: str | None) -> str | None:
    """DICOM DA ``YYYYMMDD`` -> ``YYYY-MM-DD``; None when absent or not a real date."""
    import datetime as dt

    if not value:
        return None
    digits = value.replace("-", "").replace(".", "").strip()
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        return None


def to_png_bytes(image: Image.Image, max_side: int | None = None) -> bytes:
    """Encode an image as PNG, optionally downscaled so that its longer side is ``max_side``.

    Args:
        image: any PIL image.
        max_side: longest side of the result in pixels; None keeps the size.

    Returns:
        The PNG file's bytes.
    """
    if max_side is not None and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
