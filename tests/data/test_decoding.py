"""Image intake: PNG/JPEG/DICOM decoded by content, with clear refusals for everything else."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

import broken_dicoms
from pneumoscan.data.decoding import (
    DecodedImage,
    ImageDecodeError,
    decode_image,
    sniff_format,
    to_png_bytes,
)

SHARED_DICOM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dicom"


def _png_bytes(image: Image.Image, **save_args) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **save_args)
    return buf.getvalue()


def _jpeg_bytes(image: Image.Image, **save_args) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95, **save_args)
    return buf.getvalue()


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w), (h, 1)).astype(np.uint8)


def bomb_png(side: int = 30000) -> bytes:
    """A real, complete 1-bit PNG of side x side pixels that compresses to ~100 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    block = row * 1000
    idat = b"".join(comp.compress(block) for _ in range(side // 1000)) + comp.compress(row * (side % 1000))
    idat += comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _read(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


# ---------------------------------------------------------------------------------------- PNG / JPEG


def test_an_8_bit_grayscale_png_decodes_to_the_same_pixels():
    arr = _gradient()
    out = decode_image(_png_bytes(Image.fromarray(arr, mode="L")))
    assert isinstance(out, DecodedImage)
    assert (out.format, out.width, out.height, out.bit_depth, out.dicom) == ("png", 64, 48, 8, None)
    assert out.image.mode == "L"
    np.testing.assert_array_equal(np.asarray(out.image), arr)


def test_a_16_bit_png_is_scaled_from_its_own_range_to_8_bits():
    arr = np.tile(np.linspace(1000, 5000, 64), (48, 1)).astype(np.uint16)
    out = decode_image(_png_bytes(Image.fromarray(arr)))
    assert out.bit_depth == 16 and out.image.mode == "L"
    expected = np.rint((arr.astype(float) - 1000) * 255 / 4000).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(out.image), expected)


def test_an_rgb_png_of_a_gray_image_becomes_grayscale_but_a_colour_one_stays_rgb():
    gray = np.stack([_gradient()] * 3, axis=-1)
    assert decode_image(_png_bytes(Image.fromarray(gray, mode="RGB"))).image.mode == "RGB"
    la = Image.fromarray(_gradient(), mode="L").convert("LA")
    assert decode_image(_png_bytes(la)).image.mode == "L"
    palette = Image.fromarray(_gradient(), mode="L").convert("P")
    assert decode_image(_png_bytes(palette)).image.mode == "L"


def test_a_jpeg_is_recognised_by_content_and_decoded():
    out = decode_image(_jpeg_bytes(Image.fromarray(_gradient(), mode="L")))
    assert out.format == "jpeg" and out.image.size == (64, 48)
    assert np.abs(np.asarray(out.image, dtype=float) - _gradient()).mean() < 3


def test_exif_orientation_is_applied():
    arr = np.zeros((40, 60), dtype=np.uint8)
    arr[:, 30:] = 255  # right half white
    image = Image.fromarray(arr, mode="L")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode_image(_jpeg_bytes(image, exif=exif.tobytes()))
    assert out.image.size == (40, 60)
    pixels = np.asarray(out.image, dtype=float)
    assert pixels[50:, :].mean() > 200 and pixels[:10, :].mean() < 50  # white half now at the bottom


def test_the_format_comes_from_the_content_not_a_name():
    assert sniff_format(_png_bytes(Image.new("L", (40, 40)))) == "png"
    assert sniff_format(_jpeg_bytes(Image.new("L", (40, 40)))) == "jpeg"
    assert sniff_format(_read("CT_small.dcm")) == "dicom"
    assert sniff_format(b"hello, I am a text file named x.png") is None


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "empty_file", "empty"),
        (b"just some text, saved as scan.png\n" * 5, "unsupported_media_type", "text file"),
        (b"GIF89a" + b"\x00" * 100, "unsupported_media_type", "GIF"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "unsupported_media_type", "PDF"),
    ],
)
def test_unusable_bytes_are_refused_with_a_code_and_a_message(data, code, words):
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data)
    assert info.value.code == code
    assert words in info.value.message


def test_a_truncated_jpeg_is_refused_as_unreadable():
    data = _jpeg_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8)))
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.code == "unreadable_image"
    assert "damaged" in info.value.message


def test_a_decompression_bomb_is_refused_from_its_header():
    data = bomb_png(30000)
    assert len(data) < 1_000_000
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data)
    assert info.value.code == "image_too_large"
    assert "30000x30000" in info.value.message


def test_a_jpeg_claiming_30000x30000_pixels_is_refused_from_its_frame_header():
    data = bytearray(_jpeg_bytes(Image.fromarray(_gradient(), mode="L")))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2  # height, width
    with pytest.raises(ImageDecodeError) as info:
        decode_image(bytes(data))
    assert info.value.code == "image_too_large" and "30000x30000" in info.value.message


def test_a_tiny_image_is_refused():
    with pytest.raises(ImageDecodeError) as info:
        decode_image(_png_bytes(Image.new("L", (8, 8))))
    assert info.value.code == "image_too_small"


def test_to_png_bytes_downscales_to_the_longest_side():
    png = to_png_bytes(Image.fromarray(_gradient(48, 64)), max_side=32)
    assert Image.open(io.BytesIO(png)).size == (32, 24)


# --------------------------------------------------------------------------------------------- DICOM


def test_monochrome1_dicom_is_inverted_and_its_tags_come_back():
    out = decode_image(_read("RG1_UNCR.dcm"))
    assert out.format == "dicom" and out.bit_depth == 15 and out.image.mode == "L"
    assert out.image.size == (1841, 1955)
    info = out.dicom
    assert info is not None
    assert info.patient_name == "RG1 CompressedSamples"
    assert (info.patient_id, info.sex) == ("9RG1", "female")
    assert (info.birth_date, info.study_date) == ("1940-03-05", "2004-08-26")
    assert (info.modality, info.view_position, info.body_part) == ("CR", "PA", "CHEST")
    # MONOCHROME1: low stored values are white. Window 15000/30000 -> display = 255 - linear map.
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    stored = ds.pixel_array.astype(float)
    expected = 255 - np.clip(np.rint(((stored - 14999.5) / 29999 + 0.5) * 255), 0, 255)
    np.testing.assert_array_equal(np.asarray(out.image), expected.astype(np.uint8))


def test_monochrome1_decodes_to_the_same_image_as_its_monochrome2_twin():
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    top = 2**15 - 1
    ds.PixelData = (top - ds.pixel_array.astype(np.int32)).astype(np.uint16).tobytes()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter = top - float(ds.WindowCenter) + 1  # the linear window is asymmetric by one
    buf = io.BytesIO()
    ds.save_as(buf)
    mono1 = np.asarray(decode_image(_read("RG1_UNCR.dcm")).image, dtype=int)
    mono2 = np.asarray(decode_image(buf.getvalue()).image, dtype=int)
    assert np.abs(mono1 - mono2).max() <= 1


def test_jpeg2000_dicom_decodes_to_the_same_image_as_the_uncompressed_file():
    raw = np.asarray(decode_image(_read("RG1_UNCR.dcm")).image, dtype=float)
    j2k = decode_image(_read("RG1_J2KI.dcm"))
    assert j2k.dicom is not None and "JPEG 2000" in (j2k.dicom.transfer_syntax or "")
    lossy = np.asarray(j2k.image, dtype=float)
    assert lossy.shape == raw.shape
    assert np.abs(lossy - raw).mean() < 1.0  # lossy compression: a fraction of a grey level on average
    assert np.corrcoef(lossy.ravel(), raw.ravel())[0, 1] > 0.999


def test_rescale_and_window_are_applied_as_the_standard_says():
    """CT_small: rescale slope 1, intercept -1024 (HU); with a lung window W 1500 / C -600 added."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = -600, 1500
    buf = io.BytesIO()
    ds.save_as(buf)
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    expected = np.clip(np.rint(((hu - (-600 - 0.5)) / (1500 - 1) + 0.5) * 255), 0, 255)
    np.testing.assert_array_equal(np.asarray(decode_image(buf.getvalue()).image), expected.astype(np.uint8))


def test_a_voi_lut_sequence_wins_over_the_window():
    """A 12-bit VOI LUT that inverts stored values 0..4095 replaces MR_small's window."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    lut = (4095 - np.arange(4096)).astype(np.uint16)
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])  # LUT Descriptor: entries, first stored value, bits
    item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
    ds.VOILUTSequence = Sequence([item])
    buf = io.BytesIO()
    ds.save_as(buf)
    stored = np.clip(ds.pixel_array.astype(int), 0, 4095)
    expected = np.rint(lut[stored].astype(float) * 255 / 4095).astype(np.uint8)
    got = np.asarray(decode_image(buf.getvalue()).image)
    np.testing.assert_array_equal(got, expected)
    window_only = np.asarray(decode_image(_read("MR_small.dcm")).image)
    assert np.corrcoef(got.ravel().astype(float), window_only.ravel().astype(float))[0, 1] < -0.9  # inverted


def test_a_dicom_without_the_preamble_is_still_read():
    data = _read("CT_small.dcm")
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.preamble = None
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=False)
    bare = buf.getvalue()
    assert bare[128:132] != b"DICM" and bare[:2] == b"\x02\x00"
    out = decode_image(bare)
    assert out.format == "dicom" and out.dicom.modality == "CT"


def test_a_dicom_without_pixel_data_is_refused():
    with pytest.raises(ImageDecodeError) as info:
        decode_image(_read("rtplan.dcm"))
    assert info.value.code == "no_pixel_data"
    assert "no image" in info.value.message


def test_a_truncated_dicom_is_refused_as_unreadable():
    data = _read("RG1_J2KI.dcm")
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data[: len(data) // 3])
    assert info.value.code == "unreadable_image"


def test_ct_and_mr_dicoms_decode_with_their_modality():
    assert decode_image(_read("CT_small.dcm")).dicom.modality == "CT"
    mr = decode_image(_read("MR_small.dcm"))
    assert mr.dicom.modality == "MR" and mr.image.size == (64, 64)
    lossless = decode_image(_read("MR_small_jp2klossless.dcm"))
    assert np.abs(np.asarray(lossless.image, int) - np.asarray(mr.image, int)).max() <= 1


@pytest.mark.shared_data
def test_a_jpeg_baseline_chest_dicom_from_the_shared_data_decodes():
    path = SHARED_DICOM / "NIH_CR_chest_PA_jpeg_baseline.dcm"
    if not path.exists():
        pytest.skip("../shared/data/dicom is absent (fresh clone)")
    out = decode_image(path.read_bytes())
    assert out.image.size == (1024, 1024) and out.image.mode == "L"
    assert out.dicom.modality == "CR" and out.dicom.view_position == "PA"
    pixels = np.asarray(out.image, dtype=float)
    assert 40 < pixels.mean() < 220 and pixels.std() > 30  # a real radiograph, not a blank


def test_the_committed_sample_rebuilt_uncompressed_decodes():
    out = decode_image(broken_dicoms.to_bytes(broken_dicoms.base_dataset()))
    assert out.image.size == (128, 128) and out.dicom.modality == "CR"


@pytest.mark.parametrize("case", sorted(broken_dicoms.BROKEN))
def test_each_broken_pixel_tag_is_refused_with_its_own_message(case):
    build, words = broken_dicoms.BROKEN[case]
    with pytest.raises(ImageDecodeError) as info:
        decode_image(build())
    assert info.value.code == "unreadable_image"
    assert words in info.value.message and "Export" in info.value.message
    others = [w for name, (_, w) in broken_dicoms.BROKEN.items() if name != case]
    assert not any(w in info.value.message for w in others)  # each class names its own tags


def test_a_voi_lut_covering_every_stored_value_is_still_applied():
    """The length check refuses short LUT data only: the full-length LUT of the same shape still works."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = broken_dicoms.base_dataset()
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])
    item.add_new(0x00283006, "US", list(range(4095, -1, -1)))
    ds.VOILUTSequence = Sequence([item])
    stored = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(128, 128).astype(float)
    expected = np.rint((4095 - stored) * 255 / 4095).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(decode_image(broken_dicoms.to_bytes(ds)).image), expected)


def test_a_sigmoid_window_is_applied_by_pydicom():
    ds = broken_dicoms.base_dataset()
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 2048, 1024, "SIGMOID"
    stored = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(128, 128).astype(float)
    expected = np.rint(255 / (1 + np.exp(-4 * (stored - 2048) / 1024))).astype(np.uint8)
    got = np.asarray(decode_image(broken_dicoms.to_bytes(ds)).image).astype(int)
    assert np.abs(got - expected).max() <= 1
