"""The API's request and response schemas (marshmallow, through APIFlask).

Views declare them with ``@bp.input(...)`` and ``@bp.output(...)``; APIFlask validates requests with
them, serialises responses with them and writes the OpenAPI document from them (``GET
/api/openapi.json``). A schema class ``XSchema`` appears in the document as component ``X``.

Every limit is one constant here; the web app reads them from the OpenAPI document (``maxLength``,
``pattern``, ``minimum``/``maximum`` and the ``x-age-birth-date-tolerance-years`` extension).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import (
    EXCLUDE,
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_dump,
    pre_load,
    validate,
    validates_schema,
)
from marshmallow.utils import missing

MAX_ID = 2**31 - 1
"""Largest row id (a 32-bit INTEGER on PostgreSQL)."""

NAME_MAX = 200
MRN_MAX = 64
DOCTOR_MAX = 200
NOTES_MAX = 5000
MAX_AGE_YEARS = 130
"""Oldest accepted patient, in whole years (age and birth date alike)."""
AGE_BIRTH_DATE_TOLERANCE_YEARS = 1
"""An age and a birth date that differ by more than this many years contradict each other."""
MRN_REFUSED = r"""\x00-\x1F\x7F-\x9F!"#$%&'()*+,:;<=>?@\[\\\]^`{|}~"""
"""What an MRN may not hold: control characters and the ASCII symbols other than ``. - _ /``."""
MRN_PATTERN = f"^[^{MRN_REFUSED}]+$"
"""The MRN character rule: letters and digits of any script, spaces and ``. - _ /``. Written so that
Python's ``re`` and ECMA-262 (the ``u`` flag, as the web form compiles it) read it the same way."""
MRN_RULE = "letters and digits of any script, spaces and . - _ / (no control characters, no other ASCII symbol)"
SEXES = ("female", "male", "other", "unknown")
FORMATS = ("png", "jpeg", "dicom")
LABELS = ("NORMAL", "PNEUMONIA")
ROLES = ("clinician", "admin")


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years from ``birth`` to ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# --- base ----------------------------------------------------------------------------------------


class ApiSchema(Schema):
    """A request or response schema: unknown keys in a request are refused (400, naming them)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_unknown(self, data: Any, **kwargs: Any) -> Any:
        if self.unknown != RAISE or not isinstance(data, dict):
            return data
        allowed = [f.data_key or name for name, f in self.load_fields.items()]
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise ValidationError(f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}.",
                                  field_name=unknown[0])
        return data


class QuerySchema(ApiSchema):
    """Query parameters: other parameters are ignored (as they always were)."""

    class Meta:
        unknown = EXCLUDE


class _Named:
    """Error messages may name the field (``{name}``); ``{input}`` is the value that was sent."""

    name: str

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        return super().make_error(key, name=self.name, **kwargs)  # type: ignore[misc]


class Text(_Named, fields.String):
    """A trimmed string: NUL refused; at most ``max_length``. Blank means absent: refused when the field is
    ``required`` or ``nonblank`` (a field that may be left out but, when sent, must hold text)."""

    default_error_messages = {
        "required": "'{name}' is required; send it as a non-empty string.",
        "null": "'{name}' is required; send it as a non-empty string.",
        "invalid": "'{name}' must be a string, not {kind}.",
        "blank": "'{name}' is required and may not be blank.",
        "nul": "'{name}' contains a NUL character; remove it.",
        "too_long": "'{name}' is {length} characters long; at most {max} are allowed.",
        "pattern": "'{name}' has characters that are not allowed ({refused}); use {rule}.",
    }

    def __init__(self, max_length: int, *, pattern: tuple[str, str, str] | None = None, nonblank: bool = False,
                 **kwargs: Any):
        self.nonblank = nonblank or bool(kwargs.get("required"))
        metadata = {"maxLength": max_length, **kwargs.pop("metadata", {})}
        if self.nonblank:
            metadata["minLength"] = 1
        if pattern is not None:  # (regex, refused characters as a regex class body, the rule in words)
            metadata["pattern"] = pattern[0]
            metadata.setdefault("description", pattern[2])
        super().__init__(allow_none=not self.nonblank, metadata=metadata, **kwargs)
        self.max_length = max_length
        self.pattern = pattern

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid", kind=type(value).__name__)
        value = value.strip()
        if "\x00" in value:
            raise self.make_error("nul")
        if not value:
            if self.nonblank:
                raise self.make_error("blank")
            return None
        if len(value) > self.max_length:
            raise self.make_error("too_long", length=len(value), max=self.max_length)
        if self.pattern is not None and not re.search(self.pattern[0], value):
            refused = dict.fromkeys(re.findall(f"[{self.pattern[1]}]", value))
            raise self.make_error("pattern", refused=", ".join(repr(c) for c in list(refused)[:5]),
                                  rule=self.pattern[2])
        return value


class _Ranged(_Named, fields.Integer):
    """An integer within ``[lo, hi]`` (documented as ``minimum``/``maximum``)."""

    def __init__(self, lo: int, hi: int, **kwargs: Any):
        metadata = {"minimum": lo, "maximum": hi, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.lo, self.hi = lo, hi


class WholeNumber(_Ranged):
    """A JSON whole number (``7`` or ``7.0``, never ``"7"`` or ``true``) within ``[lo, hi]``."""

    default_error_messages = {
        "invalid": "'{name}' must be a whole number, got {input!r}.",
        "range": "'{name}' must be between {lo} and {hi}, got {input}.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise self.make_error("invalid", input=value)
        if not self.lo <= int(value) <= self.hi:
            raise self.make_error("range", lo=self.lo, hi=self.hi, input=value)
        return int(value)


class QueryInt(_Ranged):
    """An integer query parameter within ``[lo, hi]``; blank means absent."""

    default_error_messages = {
        "invalid": "Query parameter '{name}' must be an integer, got {input!r}.",
        "range": "Query parameter '{name}' must be between {lo} and {hi}, got {input}.",
    }

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            value = missing
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.make_error("invalid", input=value) from None
        if not self.lo <= number <= self.hi:
            raise self.make_error("range", lo=self.lo, hi=self.hi, input=number)
        return number


class Choice(_Named, fields.String):
    """One of ``choices`` (case-insensitive, trimmed)."""

    default_error_messages = {"invalid": "'{name}' must be one of {choices}; got {input!r}."}

    def __init__(self, choices: tuple[str, ...], *, lower: bool = True, **kwargs: Any):
        super().__init__(validate=validate.OneOf(choices), **kwargs)
        self.choices, self.lower = choices, lower

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = value.strip() if isinstance(value, str) else None
        if text is not None and self.lower:
            text = text.lower()
        if text not in self.choices:
            raise self.make_error("invalid", choices=", ".join(self.choices), input=value)
        return text


class QueryChoice(Choice):
    """A query parameter: one of ``choices``; blank means absent (``load_default``)."""

    default_error_messages = {"invalid": "'{name}' must be one of {choices}, got {input!r}."}

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            value = missing
        return super().deserialize(value, attr, data, **kwargs)


class QueryDay(_Named, fields.Date):
    """A query parameter: a day ``YYYY-MM-DD``; blank or ``all`` means every day (``None``)."""

    default_error_messages = {"invalid": "'{name}' must be a day as YYYY-MM-DD (or 'all'), got {input!r}."}

    def __init__(self, **kwargs: Any):
        super().__init__(load_default=None, allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date | None:
        text = value.strip() if isinstance(value, str) else ""
        if not text or text == "all":
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise self.make_error("invalid", input=text[:40]) from None


class QueryInstant(_Named, fields.String):
    """A query parameter: a day ``YYYY-MM-DD`` (its start, or with ``end`` the start of the next day) or
    an ISO time (UTC when it names no zone); blank means absent (``None``)."""

    default_error_messages = {"invalid": "'{name}' must be a date (YYYY-MM-DD) or an ISO time, got {input!r}."}

    def __init__(self, *, end: bool = False, **kwargs: Any):
        super().__init__(load_default=None, allow_none=True, **kwargs)
        self.end = end

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime | None:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            return None
        try:
            if len(text) == 10:
                start = dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min, tzinfo=dt.UTC)
                return start + dt.timedelta(days=1) if self.end else start
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid", input=text) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Day(_Named, fields.Date):
    """A calendar day written ``YYYY-MM-DD``, at most ``MAX_AGE_YEARS`` back and not in the future."""

    default_error_messages = {
        "invalid": "'{name}' must be a date written YYYY-MM-DD, got {input!r}.",
        "implausible": "'{name}' {input} is not plausible; it must lie between {earliest} and today.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date | None:
        if value == "":
            return None
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid", input=value) from None
        today = dt.date.today()
        if day > today or day.year < today.year - MAX_AGE_YEARS:
            raise self.make_error("implausible", input=value, earliest=today.year - MAX_AGE_YEARS)
        return day


class Passthrough(fields.Nested):
    """Documented as the nested schema; the value (already a JSON object or null) is sent as it is."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class OpenSchema(Schema):
    """A response whose other keys (beyond the declared ones) are sent as they are (the model card)."""

    class Meta:
        unknown = INCLUDE

    @post_dump(pass_original=True)
    def _keep_other_keys(self, data: dict[str, Any], original: Any, **kwargs: Any) -> dict[str, Any]:
        return {**data, **{k: v for k, v in original.items() if k not in data}} if isinstance(original, dict) else data


Nullable = {"allow_none": True}
Stamp = {"metadata": {"format": "date-time"}, "allow_none": True}


# --- errors --------------------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "stable machine-readable code (docs/api.md)"})
    message = fields.String(required=True, metadata={"description": "the problem and the fix, in plain words"})
    field = fields.String(metadata={"description": "the request field at fault"})
    reason = fields.String(metadata={"description": "for not_chest_xray: photograph, document, blank_image, "
                                     "not_radiograph, ct_or_mr, not_chest, lateral_view, out_of_distribution"})
    request_id = fields.String(metadata={"description": "on 500: quote it when reporting"})


class ErrorSchema(Schema):
    """Every 4xx/5xx answer: ``{"error": {"status", "code", "message", ...}}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)


# --- patients ------------------------------------------------------------------------------------


class PatientInputSchema(ApiSchema):
    """A patient's fields as sent (``PATCH`` may send any subset)."""

    class Meta:
        unknown = RAISE

    name = Text(NAME_MAX, nonblank=True)
    mrn = Text(MRN_MAX, nonblank=True, pattern=(MRN_PATTERN, MRN_REFUSED, MRN_RULE))
    referring_doctor = Text(DOCTOR_MAX)
    notes = Text(NOTES_MAX)
    sex = Choice(SEXES, allow_none=True, metadata={"description": "null or absent: unknown"})
    birth_date = Day(allow_none=True)
    age_years = WholeNumber(0, MAX_AGE_YEARS, allow_none=True)

    @validates_schema
    def _age_matches_birth_date(self, data: dict[str, Any], **kwargs: Any) -> None:
        birth, age = data.get("birth_date"), data.get("age_years")
        if birth is None or age is None:
            return
        computed = age_on(birth, dt.date.today())
        if abs(computed - age) > AGE_BIRTH_DATE_TOLERANCE_YEARS:
            raise ValidationError(f"'age_years' {age} contradicts 'birth_date' {birth} (age {computed}); "
                                  "send one of them.", field_name="age_years")


PATIENT_INPUT_EXTENSIONS = {"x-age-birth-date-tolerance-years": AGE_BIRTH_DATE_TOLERANCE_YEARS}
"""Added to the ``PatientInput`` component (the web form's age/birth-date check)."""


class PatientCreateSchema(PatientInputSchema):
    """A new patient (or ``PUT``): ``name`` and ``mrn`` are required."""

    name = Text(NAME_MAX, required=True)
    mrn = Text(MRN_MAX, required=True, pattern=PatientInputSchema._declared_fields["mrn"].pattern)


class DicomTagsSchema(Schema):
    patient_name = fields.String(**Nullable)
    patient_id = fields.String(**Nullable)
    sex = fields.String(validate=validate.OneOf(SEXES))
    birth_date = fields.String(metadata={"format": "date"}, **Nullable)
    study_date = fields.String(metadata={"format": "date"}, **Nullable)
    modality = fields.String(**Nullable)
    view_position = fields.String(**Nullable)
    body_part = fields.String(**Nullable)
    photometric_interpretation = fields.String(**Nullable)
    bits_stored = fields.Integer(**Nullable)
    transfer_syntax = fields.String(**Nullable)


class SubtypeSchema(Schema):
    """For a PNEUMONIA answer of a model with a subtype head, the pattern it looks more like (supports,
    does not replace, clinical judgement); null otherwise."""

    pattern = fields.String(required=True, validate=validate.OneOf(("bacterial", "viral")))
    probability = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})
    head_test_accuracy = fields.Float(**Nullable)
    wording = fields.String(required=True)


class StoredPredictionSchema(Schema):
    label = fields.String(required=True, validate=validate.OneOf(LABELS))
    probability = fields.Float(required=True)
    threshold = fields.Float(required=True)
    model_version = fields.String(required=True)
    model_id = fields.String(**Nullable)
    operating_point = fields.String(allow_none=True, metadata={
        "description": "the served model's operating point label when the served model made it, else null"})
    subtype = fields.Nested(SubtypeSchema, **Nullable)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class StudyRefusalSchema(Schema):
    reason = fields.String(required=True)
    message = fields.String(**Nullable)


class StudySchema(Schema):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True, **Nullable)
    sha256 = fields.String(required=True, metadata={"pattern": "^[0-9a-f]{64}$"})
    original_filename = fields.String(required=True, **Nullable)
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    width = fields.Integer()
    height = fields.Integer()
    dicom_tags = Passthrough(DicomTagsSchema, required=True, **Nullable)
    uploaded_at = fields.String(required=True, metadata={"format": "date-time"})
    image_url = fields.String(required=True)
    heatmap_url = fields.String(required=True, **Nullable)
    prediction = fields.Nested(StoredPredictionSchema, required=True, **Nullable)
    report_url = fields.String(required=True)
    report_pdf_url = fields.String(required=True)
    source = fields.String(validate=validate.OneOf(("upload", "dicom", "stow")),
                           metadata={"description": "how the image arrived"})
    refusal = fields.Nested(StudyRefusalSchema, allow_none=True, metadata={
        "description": "a DICOM image the model refused (stored, no prediction)"})
    read_at = fields.String(**Stamp)
    read_by = fields.String(**Nullable)


class PatientSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    mrn = fields.String(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    birth_date = fields.String(required=True, metadata={"format": "date"}, **Nullable)
    age_years = fields.Integer(required=True, **Nullable)
    referring_doctor = fields.String(required=True, **Nullable)
    notes = fields.String(required=True, **Nullable)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    studies = fields.List(fields.Nested(StudySchema))


class PageQuerySchema(QuerySchema):
    page = QueryInt(1, 1_000_000, load_default=1)
    per_page = QueryInt(1, 100, load_default=20)


class PatientQuerySchema(PageQuerySchema):
    q = fields.String(load_default="", metadata={"description": "matches the name or the MRN"})


class StudyQuerySchema(PageQuerySchema):
    patient_id = QueryInt(0, MAX_ID, load_default=0, metadata={"description": "one patient's studies (0: all)"})


class PatientPageSchema(Schema):
    items = fields.List(fields.Nested(PatientSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class StudyPageSchema(PatientPageSchema):
    items = fields.List(fields.Nested(StudySchema), required=True)


class StudyPatchSchema(ApiSchema):
    """Assign the study to a patient, or detach it (``null``)."""

    patient_id = WholeNumber(1, MAX_ID, required=True, allow_none=True,
                             error_messages={"required": "Send {{\"patient_id\": <id or null>}}; only the patient "
                                                         "can be changed on a stored study."})


class UploadSchema(Schema):
    """A multipart upload: the X-ray in ``image``."""

    image = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                                "description": "PNG, JPEG or DICOM"})


class PredictUploadSchema(UploadSchema):
    age_years = fields.Float(metadata={"minimum": 0, "maximum": MAX_AGE_YEARS,
                                       "description": "the patient's age in years (else the DICOM age tags)"})


class StudyUploadSchema(UploadSchema):
    patient_id = fields.Integer(metadata={"minimum": 1, "maximum": MAX_ID})
    age_years = fields.Float(metadata={"minimum": 0, "maximum": MAX_AGE_YEARS})


# --- images and the model ------------------------------------------------------------------------


class RefusalSchema(Schema):
    reason = fields.String(required=True)
    message = fields.String(required=True)
    detail = fields.Dict()


class InspectSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    bit_depth = fields.Integer()
    sha256 = fields.String()
    dicom = Passthrough(DicomTagsSchema, required=True, **Nullable)
    preview = fields.String(required=True, metadata={"description": "data:image/png;base64,..."})
    refusal = Passthrough(RefusalSchema, **Nullable)


class PredictQuerySchema(QuerySchema):
    heatmap = fields.String(validate=validate.OneOf(("0", "1")), metadata={"description": "1 adds a Grad-CAM overlay"})


class PredictResultSchema(Schema):
    label = fields.String(required=True, validate=validate.OneOf(LABELS))
    probability = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})
    threshold = fields.Float(required=True)
    model_version = fields.String(required=True)
    model_id = fields.String()
    operating_point = fields.String(metadata={"description": "which operating point decided (the model card's "
                                              "operating_point.label)"})
    sha256 = fields.String()
    heatmap = fields.String(metadata={"description": "data:image/png;base64,... (with ?heatmap=1)"})
    subtype = fields.Nested(SubtypeSchema, **Nullable)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.Equal("ok"))
    model_version = fields.String(required=True)
    model_id = fields.String()


class MetricSchema(Schema):
    value = fields.Float(**Nullable)
    ci_low = fields.Float(**Nullable)
    ci_high = fields.Float(**Nullable)


class OperatingPointSchema(Schema):
    """Where the decision threshold comes from: the run's validation split, or a site's labelled images
    (``pneumoscan calibrate``, with its provenance)."""

    source = fields.String(required=True, validate=validate.OneOf(("validation", "site")))
    threshold = fields.Float(required=True)
    rule = fields.Dict(**Nullable)
    label = fields.String(required=True, metadata={"description": "short text shown with every answer"})
    site = fields.String()
    n_per_class = fields.Dict(keys=fields.String(), values=fields.Integer())
    data_fingerprint = fields.String()
    date = fields.String(metadata={"format": "date"})
    original_threshold = fields.Float()
    original_rule = fields.Dict(**Nullable)
    recalibration = fields.String(validate=validate.OneOf(("none", "platt", "isotonic")))


class ValidationReportSchema(Schema):
    """Summary of a ``pneumoscan validate`` report attached to the run."""

    source = fields.String(required=True)
    n = fields.Integer(required=True)
    answered = fields.Integer(required=True)
    refused = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    pneumonia_called_share = fields.Float(**Nullable)
    counts = fields.Dict(**Nullable)
    threshold = fields.Float(**Nullable)
    auc = Passthrough(MetricSchema, **Nullable)
    sensitivity = Passthrough(MetricSchema, **Nullable)
    specificity = Passthrough(MetricSchema, **Nullable)
    ppv = Passthrough(MetricSchema, **Nullable)
    npv = Passthrough(MetricSchema, **Nullable)
    brier = Passthrough(MetricSchema, **Nullable)
    null_reasons = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.String(**Nullable)
    figures = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ModelCardSchema(OpenSchema):
    """The served model's card: ``model_card.json`` with the served values from the checkpoint. Other
    keys of the card are sent as they are."""

    model_version = fields.String(required=True)
    architecture = fields.String(**Nullable)
    backbone = fields.String(**Nullable)
    weights_origin = fields.String(**Nullable)
    class_names = fields.List(fields.String(), required=True)
    threshold = fields.Float(required=True)
    threshold_rule = fields.String(**Nullable)
    preprocessing = fields.Dict(required=True)
    training_data = fields.Dict(**Nullable)
    metrics = fields.Dict()
    intended_use = fields.Raw()
    limitations = fields.Raw()
    figures = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    operating_point = Passthrough(OperatingPointSchema)
    validation_reports = fields.List(Passthrough(ValidationReportSchema))
    subtype_head = fields.Dict(allow_none=True, metadata={
        "description": "the bacterial-vs-viral head: features, threshold, fitted_on counts, metrics (validation, "
                       "test, with CIs)"})


class ReportModelSchema(Schema):
    model_version = fields.String(required=True)


class ReportSchema(Schema):
    id = fields.Integer(required=True)
    study = Passthrough(StudySchema, required=True)
    patient = Passthrough(PatientSchema, required=True, **Nullable)
    model = Passthrough(ReportModelSchema, required=True)
    generated_at = fields.String(required=True, metadata={"format": "date-time"})
    notice = fields.String(required=True)
    pdf_url = fields.String()


UPLOAD_ERRORS = {400: "Missing field or empty file", 413: "Upload larger than the server's limit",
                 415: "Not multipart, or a file that is not PNG, JPEG or DICOM",
                 422: "Unreadable or unsuitable image (not_chest_xray carries a reason)"}
"""The error answers of every image upload (``@bp.doc(responses=UPLOAD_ERRORS)``)."""


def binary(*media_types: str, description: str = "The file") -> dict[str, Any]:
    """An ``@output``-free response description of a file answer (PNG, PDF, DICOM ...)."""
    return {"description": description,
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}}


# --- accounts ------------------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    disabled = fields.Boolean(required=True)
    locked_until = fields.String(**Stamp)
    created_at = fields.String(**Stamp)


class MeSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    via = fields.String(validate=validate.OneOf(("session", "token")))
    csrf_token = fields.String()
    expires_at = fields.String(**Stamp)


class SignedInSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    csrf_token = fields.String(required=True)
    expires_at = fields.String(**Stamp)


class SignedOutSchema(Schema):
    signed_out = fields.Boolean(required=True)


class ApiTokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    created_at = fields.String(**Stamp)
    last_used_at = fields.String(**Stamp)
    revoked_at = fields.String(**Stamp)
    expires_at = fields.String(**Stamp)
    token = fields.String(metadata={"description": "only in the answer that creates it"})


class ApiTokenListSchema(Schema):
    items = fields.List(fields.Nested(ApiTokenSchema), required=True)


class UserListSchema(Schema):
    items = fields.List(fields.Nested(UserSchema), required=True)


class UserWithPasswordSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    password = fields.String(allow_none=True, metadata={"description": "the generated password, shown once"})


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.String(required=True)
    user_id = fields.Integer(**Nullable)
    username = fields.String(**Nullable)
    action = fields.String(required=True)
    object_type = fields.String(**Nullable)
    object_id = fields.Integer(**Nullable)
    patient_id = fields.Integer(**Nullable)
    outcome = fields.String(required=True, validate=validate.OneOf(("success", "failure", "denied")))
    status = fields.Integer(**Nullable)
    client_address = fields.String(**Nullable)
    request_id = fields.String(**Nullable)
    detail = fields.String(**Nullable)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer()
    per_page = fields.Integer()


class AuditQuerySchema(QuerySchema):
    user = fields.String(load_default="", metadata={"description": "a username"})
    patient_id = QueryInt(0, MAX_ID, load_default=0)
    action = fields.String(load_default="")
    since = QueryInstant(metadata={"description": "YYYY-MM-DD (from its start) or an ISO time"})
    until = QueryInstant(end=True, metadata={"description": "YYYY-MM-DD (to its end) or an ISO time"})
    page = QueryInt(1, 1_000_000, load_default=1)
    per_page = QueryInt(1, 200, load_default=50)


class LoginSchema(ApiSchema):
    username = fields.String(required=True)
    password = fields.String(required=True)


class TokenCreateSchema(ApiSchema):
    name = fields.String(required=True)
    expires_in_days = fields.Integer(metadata={"minimum": 1, "maximum": 730, "description": "lifetime (default 90 "
                                                                                            "days)"})


class UserCreateSchema(ApiSchema):
    username = fields.String(required=True)
    role = fields.String(validate=validate.OneOf(ROLES))
    password = fields.String()


class UserPatchSchema(ApiSchema):
    disabled = fields.Boolean()
    role = fields.String(validate=validate.OneOf(ROLES))


class PasswordResetSchema(ApiSchema):
    """Optional body: without one (or without ``password``) a password is generated."""

    class Meta:
        unknown = RAISE
        optional_body = True

    password = fields.String()


# --- hospital ------------------------------------------------------------------------------------


class DicomSendSchema(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "sent")))
    destination = fields.String()
    objects = fields.Dict(keys=fields.String(), values=fields.String())
    attempts = fields.Integer()
    last_error = fields.String(**Nullable)


class WorklistPatientSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    mrn = fields.String()


class WorklistItemSchema(StudySchema):
    urgency = fields.String(required=True, validate=validate.OneOf(("above_threshold", "below_threshold", "refused")))
    margin = fields.Float(required=True, allow_none=True, metadata={"description": "probability - threshold "
                                                                                  "(null: refused)"})
    dicom_send = Passthrough(DicomSendSchema, required=True, **Nullable)
    patient = fields.Nested(WorklistPatientSchema, required=True, **Nullable)


class WorklistQuerySchema(QuerySchema):
    date = QueryDay(metadata={"description": "A day as YYYY-MM-DD (UTC) or 'all' (default)"})
    result = QueryChoice(("all", "pneumonia", "normal", "refused"), load_default="all")
    read = QueryChoice(("all", "unread", "read"), load_default="all")


class WorklistSchema(Schema):
    items = fields.List(fields.Nested(WorklistItemSchema), required=True)
    total = fields.Integer(required=True)
    date = fields.String(**Nullable)
    result = fields.String()
    read = fields.String()
    generated_at = fields.String(metadata={"format": "date-time"})
