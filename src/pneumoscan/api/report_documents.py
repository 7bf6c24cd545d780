"""Report documents: a study's report (issued once, as a ``Report`` row), its JSON summary and its
PDF (fpdf2), with the notice that the result supports and does not replace a clinician's diagnosis.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import Report, Study, utcnow
from pneumoscan.api.serialize import patient_json, study_json
from pneumoscan.api.services import services
from pneumoscan.api.storage import iso

log = logging.getLogger(__name__)

NOTICE = (
    "PneumoScan is a screening aid. This result supports and does not replace a clinician's "
    "diagnosis: it was produced by a machine-learning model from one image, may be wrong, and must be "
    "reviewed together with the patient's history, examination and other findings by a qualified "
    "clinician."
)

FONT_ROOT = Path("/usr/share/fonts")
"""Where Debian's font packages install (fonts-noto-core, fonts-noto-cjk, fonts-noto-color-emoji)."""

_PRIMARY = (
    ("NotoSans", "truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf"),
    ("DejaVu", "truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf"),
)
"""Body fonts, first found wins: Latin, Greek, Cyrillic and more."""

_FALLBACKS = (
    ("arabic", "truetype/noto/NotoSansArabic-Regular.ttf", "truetype/noto/NotoSansArabic-Bold.ttf"),
    ("hebrew", "truetype/noto/NotoSansHebrew-Regular.ttf", "truetype/noto/NotoSansHebrew-Bold.ttf"),
    ("devanagari", "truetype/noto/NotoSansDevanagari-Regular.ttf", "truetype/noto/NotoSansDevanagari-Bold.ttf"),
    ("bengali", "truetype/noto/NotoSansBengali-Regular.ttf", "truetype/noto/NotoSansBengali-Bold.ttf"),
    ("tamil", "truetype/noto/NotoSansTamil-Regular.ttf", "truetype/noto/NotoSansTamil-Bold.ttf"),
    ("thai", "truetype/noto/NotoSansThai-Regular.ttf", "truetype/noto/NotoSansThai-Bold.ttf"),
    ("armenian", "truetype/noto/NotoSansArmenian-Regular.ttf", "truetype/noto/NotoSansArmenian-Bold.ttf"),
    ("georgian", "truetype/noto/NotoSansGeorgian-Regular.ttf", "truetype/noto/NotoSansGeorgian-Bold.ttf"),
    ("ethiopic", "truetype/noto/NotoSansEthiopic-Regular.ttf", "truetype/noto/NotoSansEthiopic-Bold.ttf"),
    ("cjk", "opentype/noto/NotoSansCJK-Regular.ttc", "opentype/noto/NotoSansCJK-Bold.ttc"),
    ("emoji", "truetype/noto/NotoColorEmoji.ttf", None),
    ("symbols", "truetype/noto/NotoSansSymbols-Regular.ttf", "truetype/noto/NotoSansSymbols-Bold.ttf"),
    ("symbols2", "truetype/noto/NotoSansSymbols2-Regular.ttf", None),
    ("dejavu", "truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf"),
)
"""Fonts for what the body font lacks, each embedded only when the report needs it (CJK is large)."""


@functools.lru_cache(maxsize=32)
def _coverage(path: Path) -> frozenset[int]:
    """The code points a font file draws (read once per process)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


@functools.lru_cache(maxsize=1)
def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        log.warning("uharfbuzz is not installed: PDF text is not shaped (Arabic unjoined, Indic unordered)")
        return False
    return True


_warned_missing: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned_missing:
        _warned_missing.add(message)
        log.warning(message)

def model_summary(card: dict[str, Any], prediction_version: str, model_id: str) -> dict[str, Any]:
    """The model facts a report states; card details only when the served model made the prediction."""
    out: dict[str, Any] = {"model_version": prediction_version}
    if card.get("model_version") != prediction_version:
        out["note"] = "This prediction was made by a model that is no longer served; its card is not available."
        return out
    training = card.get("training_data") or {}
    test = (card.get("metrics") or {}).get("test") or {}
    out.update(
        {
            "model_id": model_id,
            "architecture": card.get("architecture"),
            "backbone": card.get("backbone"),
            "threshold": card.get("threshold"),
            "threshold_rule": card.get("threshold_rule"),
            "operating_point": card.get("operating_point"),
            "training_data": {
                "source": training.get("source"),
                "fingerprint": training.get("fingerprint"),
                "counts": training.get("counts"),
            },
            "metrics": {
                k: test[k]
                for k in ("n", "accuracy", "auc", "sensitivity", "specificity", "precision", "f1")
                if k in test
            },
            "intended_use": card.get("intended_use"),
        }
    )
    return out


class _Pdf(FPDF):
    def __init__(self, font: str, footer_text: str):
        super().__init__(format="A4", unit="mm")
        self._font = font
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self._font, size=7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self._footer_text}  -  page {self.page_no()}/{{nb}}", align="C")


def issue_report(session: Session, study_id: int) -> tuple[dict, Study]:
    """The report of the study's latest prediction (its JSON body) and the study.

    The first request records a ``Report`` row (when it was issued and with which notice); later
    requests show the same report. Concurrent first requests agree on one row: the insert is
    ``INSERT ... ON CONFLICT DO NOTHING`` against the unique (study, prediction) constraint, and every
    request then reads the row that won.

    Raises:
        ApiError: no such study, or it has no prediction (404).
    """
    study = session.scalar(
        select(Study).where(Study.id == study_id).options(selectinload(Study.predictions), selectinload(Study.patient))
    )
    if study is None:
        raise ApiError(404, "not_found", f"Study {study_id} does not exist, so it has no report.")
    pred = study.prediction
    if pred is None:
        raise ApiError(404, "not_found", f"Study {study_id} has no prediction yet, so it has no report.")
    which = select(Report).where(Report.study_id == study.id, Report.prediction_id == pred.id)
    report = session.scalar(which)
    if report is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Report).values(study_id=study.id, prediction_id=pred.id, notice=NOTICE,
                                              generated_at=utcnow()).on_conflict_do_nothing())
        report = session.scalar(which)
    svc = services()
    body = {
        "id": report.id,
        "study": study_json(study),
        "patient": patient_json(study.patient) if study.patient is not None else None,
        "model": model_summary(svc.model_card, pred.model_version, pred.model_id),
        "generated_at": iso(report.generated_at),
        "notice": report.notice,
        "pdf_url": f"/api/reports/{study.id}.pdf",
    }
    return body, study


def _fonts(pdf: FPDF, text: str, root: Path | None = None) -> tuple[str, bool]:
    """Embed a body font and the fallback fonts that ``text`` needs; enable shaping.

    Returns:
        The body font's name and whether it is a Unicode font. Without any (the Noto and DejaVu
        packages missing) it is Helvetica, Latin-1 only, and a warning says what to install.
    """
    root = FONT_ROOT if root is None else root
    primary = next(((name, root / regular, root / bold) for name, regular, bold in _PRIMARY
                    if (root / regular).is_file() and (root / bold).is_file()), None)
    if primary is None:
        _warn_once(f"no Unicode font under {root}: PDF reports print Latin-1 only (names in other scripts "
                   "become '?'); install fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji")
        return "Helvetica", False
    name, regular, bold = primary
    pdf.add_font(name, "", str(regular))
    pdf.add_font(name, "B", str(bold))
    missing = {ord(c) for c in text if not c.isspace()} - _coverage(regular)
    fallbacks = []
    for fallback, fb_regular, fb_bold in _FALLBACKS:
        path = root / fb_regular
        if not missing or not path.is_file():
            continue
        drawn = missing & _coverage(path)
        if not drawn:
            continue
        pdf.add_font(fallback, "", str(path))
        if fb_bold and (root / fb_bold).is_file():
            pdf.add_font(fallback, "B", str(root / fb_bold))
        fallbacks.append(fallback)
        missing -= drawn
    missing -= {0x200D, 0xFE0F}  # joiners and emoji variation selectors draw nothing themselves
    if missing:
        chars = " ".join(f"U+{cp:04X}" for cp in sorted(missing)[:10])
        _warn_once(f"no installed font draws {chars} ...; those characters are left out of PDF reports "
                   "(install the fonts-noto-* packages)")
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    if _shaping_available():
        pdf.set_text_shaping(True)
    return name, True

def _png_for_pdf(path: Path | None, max_side: int = 900) -> io.BytesIO | None:
    if path is None or not path.is_file():
        return None
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    buf.seek(0)
    return buf


def render_pdf(report: dict[str, Any], image_path: Path | None, heatmap_path: Path | None,
               font_root: Path | None = None) -> bytes:
    """Lay out a one-to-two-page A4 report.

    Names and notes in any script print: Noto Sans for the body, with Noto fallbacks (Arabic, Hebrew,
    Indic, Thai, CJK, colour emoji, ...) embedded as the text needs them, shaped by HarfBuzz (joined
    Arabic, right-to-left order, Indic conjuncts).

    Args:
        report: the JSON report (``report_json``).
        image_path: the decoded X-ray PNG.
        heatmap_path: the Grad-CAM overlay PNG (may be None).
        font_root: where to look for fonts (default ``FONT_ROOT``).

    Returns:
        The PDF file's bytes.
    """
    pdf = _Pdf("Helvetica", f"PneumoScan report {report['id']} - study {report['study']['id']}")
    font, unicode_ok = _fonts(pdf, json.dumps(report, ensure_ascii=False), font_root)
    pdf._font = font

    def clean(value: Any) -> str:
        text = "-" if value is None or value == "" else str(value)
        return text if unicode_ok else text.encode("latin-1", "replace").decode("latin-1")

    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_title("PneumoScan chest X-ray screening report")
    pdf.set_creator("PneumoScan")
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font(font, "B", 16)
    pdf.cell(0, 9, clean("PneumoScan - chest X-ray screening report"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, size=8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 5, clean(f"Generated {report['generated_at']}   Report {report['id']}"), new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    # Notice first: nobody reads the result without it.
    pdf.set_fill_color(255, 243, 205)
    pdf.set_font(font, "B", 9)
    pdf.multi_cell(width, 5, clean(report["notice"]), border=1, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def section(title: str) -> None:
        pdf.set_font(font, "B", 11)
        pdf.cell(0, 7, clean(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(font, size=9)

    def row(label: str, value: Any) -> None:
        pdf.set_font(font, "B", 9)
        pdf.cell(45, 5, clean(label))
        pdf.set_font(font, size=9)
        pdf.multi_cell(width - 45, 5, clean(value), new_x="LMARGIN", new_y="NEXT")

    patient = report.get("patient")
    section("Patient")
    if patient:
        row("Name", patient["name"])
        row("Patient ID / MRN", patient["mrn"])
        row("Sex", patient["sex"])
        row("Birth date", patient["birth_date"])
        row("Age (years)", patient["age_years"])
        row("Referring doctor", patient["referring_doctor"])
        if patient.get("notes"):
            row("Notes", patient["notes"])
    else:
        row("Patient", "not assigned to a patient")
    pdf.ln(2)

    study = report["study"]
    pred = study.get("prediction") or {}
    section("Result")
    pdf.set_font(font, "B", 13)
    label = pred.get("label", "-")
    colour = (176, 0, 32) if label == "PNEUMONIA" else (0, 100, 0)
    pdf.set_text_color(*colour)
    prob = pred.get("probability")
    thr = pred.get("threshold")
    pdf.cell(0, 8, clean(f"{label}   probability of pneumonia {prob:.3f}  (threshold {thr:.3f})"
                         if prob is not None and thr is not None else label), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(font, size=9)
    op = pred.get("operating_point")
    row("Rule", "PNEUMONIA when the probability is at or above the threshold "
        + (f"of the operating point {op}" if op else "chosen on validation data"))
    subtype = pred.get("subtype") if label == "PNEUMONIA" else None
    if subtype and subtype.get("wording"):
        row("Pattern", subtype["wording"])
    row("Model version", pred.get("model_version"))
    row("Predicted at", pred.get("created_at"))
    pdf.ln(2)

    section("Image")
    row("Study", f"{study['id']}  uploaded {study['uploaded_at']}")
    row("File", f"{study.get('original_filename') or '-'} ({study['format']}, {study['width']}x{study['height']})")
    row("SHA-256", study["sha256"])
    tags = study.get("dicom_tags") or {}
    if tags:
        row("DICOM", ", ".join(f"{k}: {tags[k]}" for k in ("modality", "view_position", "body_part", "study_date")
                               if tags.get(k)))
    pdf.ln(2)

    xray, heat = _png_for_pdf(image_path), _png_for_pdf(heatmap_path)
    box = (width - 6) / 2
    if pdf.get_y() + box + 10 > pdf.h - 15:
        pdf.add_page()
    top = pdf.get_y()
    for i, (buf, caption) in enumerate(((xray, "X-ray"), (heat, "Grad-CAM heatmap (model attention)"))):
        x = pdf.l_margin + i * (box + 6)
        if buf is not None:
            pdf.image(buf, x=x, y=top, w=box, h=box, keep_aspect_ratio=True)
        else:
            pdf.rect(x, top, box, box)
        pdf.set_xy(x, top + box + 1)
        pdf.set_font(font, size=8)
        pdf.cell(box, 4, clean(caption if buf is not None else f"{caption}: not available"), align="C")
    pdf.set_xy(pdf.l_margin, top + box + 7)

    model = report.get("model") or {}
    section("Model")
    row("Version", model.get("model_version"))
    if model.get("note"):
        row("Note", model["note"])
    row("Architecture", model.get("architecture"))
    row("Decision rule", model.get("threshold_rule"))
    training = model.get("training_data") or {}
    row("Training data", f"{training.get('source') or '-'} ({training.get('fingerprint') or '-'})")
    metrics = model.get("metrics") or {}
    parts = []
    for key in ("auc", "sensitivity", "specificity", "accuracy"):
        m = metrics.get(key)
        if isinstance(m, dict) and m.get("value") is not None:
            ci = ""
            if m.get("ci_low") is not None and m.get("ci_high") is not None:
                ci = f" ({m['ci_low']:.2f}-{m['ci_high']:.2f})"
            parts.append(f"{key} {m['value']:.3f}{ci}")
    if parts:
        row(f"Test metrics (n={metrics.get('n', '-')})", "; ".join(parts) + "  [95% CI]")
    pdf.ln(3)
    pdf.set_font(font, "B", 8)
    pdf.multi_cell(width, 4, clean(report["notice"]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
