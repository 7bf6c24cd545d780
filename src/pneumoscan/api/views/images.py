"""Stateless image endpoints: ``POST /api/inspect`` (decode only) and ``POST /api/predict``."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from pneumoscan.api.access import record
from pneumoscan.api.declare import access, audited
from pneumoscan.api.errors import ApiError
from pneumoscan.api.schemas import (
    UPLOAD_ERRORS,
    InspectSchema,
    PredictQuerySchema,
    PredictResultSchema,
    PredictUploadSchema,
    UploadSchema,
)
from pneumoscan.api.services import services
from pneumoscan.api.uploads import age_field, decode_upload, flag, png_data_url, preview_data_url, read_upload
from pneumoscan.serving.refusal import NotChestXrayError, Refusal

bp = APIBlueprint("images", __name__, url_prefix="/api", tag="Images")


_DICOM_IDENTITY = ("patient_name", "patient_id", "birth_date")
"""DICOM fields that identify a person; the audit row of /api/inspect says which ones it returned."""


def refusal_error(refusal: Refusal) -> ApiError:
    """The 422 answer for an image the model was not made for."""
    return ApiError(422, "not_chest_xray", refusal.message, reason=refusal.reason, detail=refusal.detail)


@bp.post("/inspect")
@access("predict")
@audited("inspect", "image")
@bp.input(UploadSchema, location="form_and_files", arg_name="form", validation=False)
@bp.output(InspectSchema, description="Decoded")
@bp.doc(operation_id="inspect", responses=UPLOAD_ERRORS)
def inspect(form: Any):
    """Decode an upload for preview and DICOM prefill (nothing predicted or stored)

    The audit row says who asked and which identity fields were returned, never the image.

    ``refusal`` reports the cheap checks (DICOM tags, pixels) so the form can warn early; the model's
    own check runs on ``/api/predict`` and ``/api/studies``.
    """
    upload = read_upload()
    decoded = decode_upload(upload)
    refusal = services().predictor.check(decoded.image, decoded.dicom)
    identity = [k for k in _DICOM_IDENTITY if decoded.dicom is not None and getattr(decoded.dicom, k)]
    record(None, detail=f"{decoded.format} sha256:{upload.sha256[:16]}; returned "
                        f"{'DICOM identity ' + ', '.join(identity) if identity else 'no patient identity'}"
                        f"{'; refusal ' + refusal.reason if refusal else ''}")
    return {
        "format": decoded.format,
        "width": decoded.width,
        "height": decoded.height,
        "bit_depth": decoded.bit_depth,
        "sha256": upload.sha256,
        "dicom": decoded.dicom.to_dict() if decoded.dicom else None,
        "preview": preview_data_url(decoded),
        "refusal": refusal.to_dict() if refusal else None,
    }


@bp.post("/predict")
@access("predict")
@audited("predict", "image")
@bp.input(PredictQuerySchema, location="query", arg_name="query", validation=False)
@bp.input(PredictUploadSchema, location="form_and_files", arg_name="form", validation=False)
@bp.output(PredictResultSchema, description="Prediction")
@bp.doc(operation_id="predict", responses=UPLOAD_ERRORS)
def predict(query: Any, form: Any):
    """Predict one upload; nothing stored

    The audit row keeps who asked, the file's SHA-256 and the answer; ``?heatmap=1`` adds the Grad-CAM
    overlay.

    The optional form field ``age_years`` (else the DICOM age tags) is checked against the model's
    intended population: outside it, the answer is a refusal, not a prediction.
    """
    want_heatmap = flag("heatmap")
    age = age_field()
    upload = read_upload()
    decoded = decode_upload(upload)
    svc = services()
    try:
        pred = svc.predictor.screen(decoded, heatmap=want_heatmap, age_years=age)
    except NotChestXrayError as exc:
        error = refusal_error(exc.refusal)
        record(None, detail=f"{decoded.format}; refused {exc.refusal.reason}", failure=error)  # no hash: rolled up
        raise error from exc
    record(None, detail=f"{decoded.format} sha256:{upload.sha256[:16]}; returned {pred.label} "
                        f"p={pred.probability:.4f}")
    body = {**pred.to_dict(), "model_id": svc.model_id, "operating_point": svc.model_card["operating_point"]["label"],
            "sha256": upload.sha256}
    if want_heatmap and pred.heatmap_png is not None:
        body["heatmap"] = png_data_url(pred.heatmap_png)
    return body
