"""Files the browser tests upload (made on the fly, nothing binary committed) and PDF text search."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ARTIFACTS = REPO / "artifacts" / "e2e"
SHARED_XRAYS = REPO.parent / "shared" / "data" / "chest_xray"
_NOT_XRAY_WORDS = {"photo", "photograph", "document", "blank", "ct", "mr", "refused", "not", "lateral"}


def xray_candidates(tmp: Path) -> list[Path]:
    """Chest X-rays to try, best first: the repo's samples/, then ../shared data, then a synthetic one.

    The synthetic image comes from the same generator as the tiny trained run's data, so a model
    trained on it accepts it even when its out-of-distribution gate refuses real radiographs.
    """
    found: list[Path] = []
    if SAMPLES.is_dir():
        for p in sorted(SAMPLES.iterdir()):
            words = set(re.split(r"[_\-\s.]+", p.stem.lower()))
            if p.suffix.lower() in {".png", ".jpg", ".jpeg"} and not words & _NOT_XRAY_WORDS:
                found.append(p)
    for split in ("val", "test"):
        for cls in ("NORMAL", "PNEUMONIA"):
            d = SHARED_XRAYS / split / cls
            if d.is_dir():
                found.extend(sorted(d.glob("*.jpeg"))[:1])
    found.append(make_synthetic_xray(tmp / "synthetic_chest_xray.png"))
    return found


def make_synthetic_xray(path: Path, seed: int = 2024) -> Path:
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from synthetic import make_xray  # the tiny run's own generator

    make_xray(np.random.default_rng(seed), pneumonia=True, width=96, height=96).save(path)
    return path


def make_photograph(path: Path) -> Path:
    """A colourful outdoor-looking picture (sky, grass, sun): clearly a photograph, not an X-ray."""
    w, h = 480, 320
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(7)
    img = np.zeros((h, w, 3), dtype=np.float32)
    sky = yy < h * 0.6
    img[sky] = np.stack([90 + 60 * yy[sky] / h, 150 + 50 * yy[sky] / h, 235 * np.ones(sky.sum())], axis=-1)
    img[~sky] = np.stack([40 + 30 * xx[~sky] / w, 140 + 40 * np.sin(xx[~sky] / 17), 50 * np.ones((~sky).sum())], -1)
    img += rng.normal(0, 6, img.shape)
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((360, 30, 430, 100), fill=(250, 200, 40))
    draw.rectangle((60, 150, 170, 230), fill=(180, 40, 40))
    draw.polygon([(50, 150), (115, 100), (180, 150)], fill=(120, 30, 30))
    im.save(path, "JPEG", quality=90)
    return path


CHILD_AGE_YEARS = 4
"""The stories' patients are this old: inside the shipped model's pediatric population, so no refusal for age."""


def child_birth_date() -> str:
    """A birth date (1 January) that makes the patient CHILD_AGE_YEARS old on any day of this year."""
    import datetime as dt

    return f"{dt.date.today().year - CHILD_AGE_YEARS}-01-01"


def make_dicom(
    path: Path,
    *,
    patient_name: str = "Doe^Jane",
    patient_id: str = "DCM-E2E-1",
    sex: str = "F",
    birth_date: str = "20200229",  # 4 years old on the study date: inside the intended 1-5 years
) -> Path:
    """A small, valid DX chest DICOM (PA) with patient tags, pixels from the synthetic generator."""
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from dicom_files import dicom_bytes
    from synthetic import make_xray

    image = make_xray(np.random.default_rng(11), pneumonia=False, width=128, height=128)
    path.write_bytes(dicom_bytes(image, patient_name=patient_name, patient_id=patient_id, sex=sex,
                                 birth_date=birth_date, patient_age=None, study_date="20240501", window=False))
    return path


# ---------------------------------------------------------------------------------------- PDF text

_STREAM_START = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_HEX = re.compile(rb"<([0-9A-Fa-f\s]+)>")
_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.DOTALL)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.DOTALL)


def _streams(data: bytes) -> list[bytes]:
    """Every stream's bytes (inflated when Flate-compressed), cut by its /Length when it has one."""
    out = []
    for m in _STREAM_START.finditer(data):
        if data[max(0, m.start() - 3) : m.start()] == b"end":
            continue
        head = data[max(0, data.rfind(b"obj", 0, m.start())) : m.start()]
        length = _LENGTH.search(head)
        if length:
            raw = data[m.end() : m.end() + int(length.group(1))]
        else:
            stop = data.find(b"endstream", m.end())
            raw = data[m.end() : stop if stop != -1 else len(data)].rstrip(b"\r\n")
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def _utf16(hexstr: bytes) -> str:
    b = bytes.fromhex(hexstr.decode())
    return b.decode("utf-16-be", errors="replace") if len(b) % 2 == 0 else b.decode("latin-1")


def _cmap(stream: bytes) -> dict[int, str]:
    """A ToUnicode CMap's code -> text table (bfchar and bfrange entries)."""
    table: dict[int, str] = {}
    for block in _BFCHAR.findall(stream):
        pairs = _HEX.findall(block)
        for src, dst in zip(pairs[0::2], pairs[1::2]):
            table[int(src, 16)] = _utf16(dst)
    for block in _BFRANGE.findall(stream):
        for line in block.splitlines():
            h = _HEX.findall(line)
            if len(h) == 3:
                lo, hi = int(h[0], 16), int(h[1], 16)
                start = int.from_bytes(bytes.fromhex(h[2].decode()), "big")
                for i, code in enumerate(range(lo, hi + 1)):
                    table[code] = chr(start + i)
    return table


def pdf_text(data: bytes) -> str:
    """Best-effort text of a PDF: its text strings read as Latin-1 (core fonts) and through each
    ToUnicode CMap (embedded TrueType fonts, 2-byte glyph codes).

    Each CMap decodes every string, so the font a string was set in need not be tracked: the string
    reads right under its own font's CMap and as noise under the others. Good enough to find a
    patient's name in a PDF written by fpdf2.
    """
    streams = _streams(data)
    cmaps = [_cmap(s) for s in streams if b"begincmap" in s]
    parts: list[str] = []
    for s in streams:
        if b"begincmap" in s or b"BT" not in s:
            continue
        strings = _literal_strings(s)
        strings += [
            bytes.fromhex(d.decode()) for d in (re.sub(rb"\s", b"", h) for h in _HEX.findall(s)) if len(d) % 2 == 0
        ]
        parts.append("".join(x.decode("latin-1") for x in strings))
        for table in cmaps:
            parts.append(
                "".join(
                    "".join(table.get(int.from_bytes(x[i : i + 2], "big"), "") for i in range(0, len(x), 2))
                    for x in strings
                    if len(x) % 2 == 0
                )
            )
    return "\n".join(parts)


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}


def _literal_strings(s: bytes) -> list[bytes]:
    """The ``(...)`` string operands of a content stream, unescaped (nested parentheses allowed)."""
    out: list[bytes] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] != ord("("):
            i += 1
            continue
        depth, i, buf = 1, i + 1, bytearray()
        while i < n and depth:
            c = s[i]
            if c == ord("\\") and i + 1 < n:
                nxt = s[i + 1]
                if nxt in _ESCAPES:
                    buf += _ESCAPES[nxt]
                    i += 2
                elif ord("0") <= nxt <= ord("7"):
                    j = i + 1
                    while j < min(i + 4, n) and ord("0") <= s[j] <= ord("7"):
                        j += 1
                    buf.append(int(s[i + 1 : j], 8) & 0xFF)
                    i = j
                elif nxt in (10, 13):
                    i += 2
                else:
                    buf.append(nxt)
                    i += 2
                continue
            if c == ord("("):
                depth += 1
            elif c == ord(")"):
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            buf.append(c)
            i += 1
        out.append(bytes(buf))
    return out


def pdf_contains(data: bytes, needle: str) -> bool:
    """Whether the PDF's text holds ``needle`` (spacing ignored: PDF text often has none)."""
    text = pdf_text(data)
    if needle in text:
        return True
    return re.sub(r"\s", "", needle) in re.sub(r"\s", "", text)
