/**
 * The zod schemas that check the server's answers at the edge (lib/api.ts), each tied to the type the
 * API's OpenAPI document declares (lib/generated/api.d.ts) by `SchemasFitTheApi` at the end, so that
 * drift fails tsc. The schemas are lenient where the contract leaves room (nullable optional fields,
 * unknown extra keys), strict where the UI depends on a field. Request bodies are the generated types.
 */
import { z } from "./zod";
import type { ApiSchemas, Fits, FitsApi } from "./api-schema";

/* ------------------------------------------------------------------ errors */

/** The `error` object of every error answer. */
export const apiErrorSchema = z.looseObject({
  status: z.number().int(),
  code: z.string(),
  message: z.string(),
  reason: z.string().nullish(),
  field: z.string().nullish(),
  /** duplicate_mrn: the patient who already has the MRN. */
  patient_id: z.number().int().nullish(),
  /** 422 refusals: the measures behind the decision (e.g. age_years, age_min_years, age_max_years). */
  detail: z.unknown().optional(),
});
export const apiErrorBodySchema = z.object({ error: apiErrorSchema });
export type ApiErrorBody = z.infer<typeof apiErrorBodySchema>;

/** Error codes named by the contract (others may appear; treat them as strings). */
export type ApiErrorCode =
  | "bad_request"
  | "missing_field"
  | "invalid_field"
  | "empty_file"
  | "unsupported_media_type"
  | "unreadable_image"
  | "image_too_large"
  | "payload_too_large"
  | "not_found"
  | "method_not_allowed"
  | "not_chest_xray"
  | "no_pixel_data"
  | "image_too_small"
  | "duplicate_mrn"
  | "patient_has_studies"
  | "internal_error"
  | (string & {});

/** Reasons that come with a `not_chest_xray` refusal. */
export type RefusalReason =
  | "photograph"
  | "document"
  | "blank_image"
  | "not_radiograph"
  | "ct_or_mr"
  | "out_of_distribution"
  | "not_chest"
  | "lateral_view"
  | "outside_intended_population"
  | (string & {});

/* ------------------------------------------------------------------ health */

export const healthSchema = z.looseObject({
  status: z.string(),
  model_version: z.string().nullish(),
});
export type Health = z.infer<typeof healthSchema>;

/* ------------------------------------------------------------------ model card */

export const classNameSchema = z.enum(["NORMAL", "PNEUMONIA"]);
export type ClassName = z.infer<typeof classNameSchema>;

export const metricSchema = z.looseObject({
  /** Null when the measure is undefined (e.g. no positive case to measure sensitivity on). */
  value: z.number().nullish(),
  ci_low: z.number().nullish(),
  ci_high: z.number().nullish(),
});
export type Metric = z.infer<typeof metricSchema>;

const classCountsSchema = z.record(z.string(), z.number());

export const trainingDataSchema = z.looseObject({
  source: z.string().nullish(),
  fingerprint: z.string().nullish(),
  counts: z.record(z.string(), classCountsSchema).nullish(),
});
export type TrainingData = z.infer<typeof trainingDataSchema>;

export const testMetricsSchema = z.looseObject({
  n: z.number().nullish(),
  accuracy: metricSchema.nullish(),
  auc: metricSchema.nullish(),
  sensitivity: metricSchema.nullish(),
  specificity: metricSchema.nullish(),
  precision: metricSchema.nullish(),
  f1: metricSchema.nullish(),
  confusion_matrix: z.array(z.array(z.number())).nullish(),
});
export type TestMetrics = z.infer<typeof testMetricsSchema>;

/** Free-form values (preprocessing, limitations) are shown as given: text, list or table. */
const freeFormSchema = z.unknown();

/** The patients the model was validated on; ages are whole years, both ends inclusive. */
export const intendedPopulationSchema = z.looseObject({
  age_min_years: z.number(),
  age_max_years: z.number(),
  views: z.array(z.string()).nullish(),
  description: z.string().nullish(),
});
export type IntendedPopulation = z.infer<typeof intendedPopulationSchema>;

/** The check on the image itself that refuses X-rays unlike the population the model learned from. */
export const populationCheckSchema = z.looseObject({
  kind: z.string(),
  threshold: z.number(),
  fitted_on: z.array(z.string()).nullish(),
  held_out: z.array(z.string()).nullish(),
});
export type PopulationCheck = z.infer<typeof populationCheckSchema>;

/** The second head: bacterial vs viral among pneumonias (Kermany file names), measured on test with CIs. */
export const subtypeHeadSchema = z.looseObject({
  features: z.string().nullish(),
  threshold: z.number().nullish(),
  fitted_on: z.looseObject({ train: classCountsSchema.nullish(), test: classCountsSchema.nullish() }).nullish(),
  metrics: z.looseObject({ positive_class: z.string().nullish(), test: testMetricsSchema.nullish() }).nullish(),
  wording: z.string().nullish(),
});
export type SubtypeHead = z.infer<typeof subtypeHeadSchema>;

/** Where the decision threshold comes from: the run's validation split, or a site's own labelled images. */
export const operatingPointSchema = z.looseObject({
  source: z.string(),
  threshold: z.number(),
  /** The rule as the server stores it: a sentence, or an object such as {rule: "sensitivity", min_sensitivity: 0.95}. */
  rule: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
  /** The operating point in a few words, e.g. "validation split (sensitivity >= 0.95)". */
  label: z.string().nullish(),
  site: z.string().nullish(),
  n_per_class: z.record(z.string(), z.number()).nullish(),
  date: z.string().nullish(),
  original_threshold: z.number().nullish(),
  recalibration: z.string().nullish(),
});
export type OperatingPoint = z.infer<typeof operatingPointSchema>;

/** One `pneumoscan validate` report attached to the run: a source of labelled images and the results. */
export const validationReportSchema = z.looseObject({
  source: z.string(),
  n: z.number(),
  answered: z.number(),
  refused: z.record(z.string(), z.number()).nullish(),
  pneumonia_called_share: z.number().nullish(),
  auc: metricSchema.nullish(),
  sensitivity: metricSchema.nullish(),
  specificity: metricSchema.nullish(),
  ppv: metricSchema.nullish(),
  npv: metricSchema.nullish(),
  /** The server sends the Brier score with its bootstrap interval; a bare number is accepted too. */
  brier: z.union([z.number(), metricSchema]).nullish(),
  figures: z.record(z.string(), z.string()).nullish(),
});
export type ValidationReport = z.infer<typeof validationReportSchema>;

export const modelCardSchema = z.looseObject({
  model_version: z.string(),
  architecture: z.string().nullish(),
  backbone: z.string().nullish(),
  weights_origin: z.string().nullish(),
  class_names: z.array(z.string()).nullish(),
  threshold: z.number(),
  threshold_rule: z.string().nullish(),
  preprocessing: freeFormSchema.optional(),
  training_data: trainingDataSchema.nullish(),
  metrics: z.looseObject({ test: testMetricsSchema.nullish() }).nullish(),
  intended_use: freeFormSchema.optional(),
  limitations: freeFormSchema.optional(),
  figures: z.record(z.string(), z.string()).nullish(),
  /** Absent for runs made before issue 10. */
  intended_population: intendedPopulationSchema.nullish(),
  population_check: populationCheckSchema.nullish(),
  /** Absent for runs without a subtype head (data without Kermany's file names). */
  subtype_head: subtypeHeadSchema.nullish(),
  operating_point: operatingPointSchema.nullish(),
  validation_reports: z.array(validationReportSchema).nullish(),
});
export type ModelCard = z.infer<typeof modelCardSchema>;

/* ------------------------------------------------------------------ inspect */

export const dicomTagsSchema = z.looseObject({
  patient_name: z.string().nullish(),
  patient_id: z.string().nullish(),
  sex: z.string().nullish(),
  birth_date: z.string().nullish(),
  study_date: z.string().nullish(),
  modality: z.string().nullish(),
  view_position: z.string().nullish(),
});
export type DicomTags = z.infer<typeof dicomTagsSchema>;

export const inspectResultSchema = z.looseObject({
  format: z.string(),
  width: z.number().nullish(),
  height: z.number().nullish(),
  dicom: dicomTagsSchema.nullish(),
  preview: z.string().nullish(),
  /** The cheap checks' verdict before upload (DICOM tags, pixels); the model's own check comes later. */
  refusal: z.looseObject({ reason: z.string(), message: z.string() }).nullish(),
});
export type InspectResult = z.infer<typeof inspectResultSchema>;

/* ------------------------------------------------------------------ patients */

export const SEXES = ["female", "male", "other", "unknown"] as const;
export type Sex = (typeof SEXES)[number];

export const patientSchema = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  mrn: z.string(),
  sex: z.string().nullish(),
  birth_date: z.string().nullish(),
  age_years: z.number().nullish(),
  referring_doctor: z.string().nullish(),
  notes: z.string().nullish(),
  created_at: z.string().nullish(),
});
export type Patient = z.infer<typeof patientSchema>;

/** Body of POST /api/patients: the API's PatientInput, with name and MRN required. */
export type PatientCreate = ApiSchemas["PatientInput"] & Required<Pick<ApiSchemas["PatientInput"], "name" | "mrn">>;

export const patientPageSchema = z.looseObject({
  items: z.array(patientSchema),
  total: z.number().int(),
  page: z.number().int(),
  per_page: z.number().int(),
});
export type PatientPage = z.infer<typeof patientPageSchema>;

/* ------------------------------------------------------------------ studies */

/** For a pneumonia answer of a model with a subtype head: the pattern it looks more like (support, not diagnosis). */
export const subtypeSchema = z.looseObject({
  pattern: z.enum(["bacterial", "viral"]),
  probability: z.number().min(0).max(1),
  head_test_accuracy: z.number().nullish(),
  wording: z.string(),
});
export type Subtype = z.infer<typeof subtypeSchema>;

export const predictionSchema = z.looseObject({
  label: classNameSchema,
  probability: z.number().min(0).max(1),
  threshold: z.number().min(0).max(1),
  model_version: z.string().nullish(),
  created_at: z.string().nullish(),
  /** Which operating point produced the answer, e.g. "validation threshold 0.728" or "site: Hospital X, 2026-11-29". */
  operating_point: z.string().nullish(),
  /** Absent or null for a normal answer, or when the model has no subtype head. */
  subtype: subtypeSchema.nullish(),
});
export type Prediction = z.infer<typeof predictionSchema>;

export const studySchema = z.looseObject({
  id: z.number().int(),
  patient_id: z.number().int().nullish(),
  sha256: z.string().nullish(),
  original_filename: z.string().nullish(),
  format: z.string().nullish(),
  dicom_tags: z.record(z.string(), z.unknown()).nullish(),
  uploaded_at: z.string().nullish(),
  image_url: z.string().nullish(),
  heatmap_url: z.string().nullish(),
  prediction: predictionSchema.nullish(),
  report_url: z.string().nullish(),
  report_pdf_url: z.string().nullish(),
});
export type Study = z.infer<typeof studySchema>;

export const patientWithStudiesSchema = patientSchema.extend({
  studies: z.array(studySchema).default([]),
});
export type PatientWithStudies = z.infer<typeof patientWithStudiesSchema>;

/* ------------------------------------------------------------------ reports */

export const reportSchema = z.looseObject({
  study: studySchema,
  patient: patientSchema.nullish(),
  model: z
    .looseObject({
      model_version: z.string().nullish(),
      architecture: z.string().nullish(),
      threshold: z.number().nullish(),
      threshold_rule: z.string().nullish(),
      training_data: z.unknown().optional(),
      metrics: z.unknown().optional(),
      intended_use: z.unknown().optional(),
      /** Set when the model that made the prediction is no longer the one served. */
      note: z.string().nullish(),
    })
    .nullish(),
  generated_at: z.string().nullish(),
  notice: z.string().nullish(),
});
export type Report = z.infer<typeof reportSchema>;

/* ------------------------------------------------------------------ accounts */

export const ROLES = ["clinician", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const userSchema = z.looseObject({
  id: z.number().int(),
  username: z.string(),
  role: z.string(),
  disabled: z.boolean().nullish(),
  locked_until: z.string().nullish(),
  created_at: z.string().nullish(),
});
export type User = z.infer<typeof userSchema>;

/** POST /api/auth/login (also sets the session cookie and the readable CSRF cookie). */
export const loginResultSchema = z.looseObject({
  user: userSchema,
  csrf_token: z.string(),
  expires_at: z.string().nullish(),
});
export type LoginResult = z.infer<typeof loginResultSchema>;

/** GET /api/auth/me: 401 when nobody is signed in. */
export const meSchema = z.looseObject({
  user: userSchema,
  via: z.string().nullish(),
  csrf_token: z.string().nullish(),
  expires_at: z.string().nullish(),
});
export type Me = z.infer<typeof meSchema>;

/* ------------------------------------------------------------------ administration */

/** GET /api/admin/users. */
export const userListSchema = z.looseObject({ items: z.array(userSchema) });

/** POST /api/admin/users and .../reset-password: the user, and the generated password (shown once). */
export const userWithPasswordSchema = z.looseObject({ user: userSchema, password: z.string().nullish() });
export type UserWithPassword = z.infer<typeof userWithPasswordSchema>;

export const auditEntrySchema = z.looseObject({
  id: z.number().int(),
  at: z.string(),
  user_id: z.number().int().nullish(),
  username: z.string().nullish(),
  action: z.string(),
  object_type: z.string().nullish(),
  object_id: z.number().int().nullish(),
  patient_id: z.number().int().nullish(),
  outcome: z.string(),
  status: z.number().int().nullish(),
  client_address: z.string().nullish(),
  detail: z.string().nullish(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** GET /api/admin/audit. */
export const auditPageSchema = z.looseObject({
  items: z.array(auditEntrySchema),
  total: z.number().int(),
  page: z.number().int(),
  per_page: z.number().int(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/* ------------------------------------------------------------------ the API's declared types */

/**
 * `tsc` fails here when the API's OpenAPI document (lib/generated/api.d.ts) and these schemas drift
 * apart (see FitsApi). A field named as the third argument is sent by the server but not yet declared.
 */
export type SchemasFitTheApi = [
  Fits<FitsApi<ApiSchemas["Error"], typeof apiErrorBodySchema>>,
  Fits<FitsApi<ApiSchemas["Error"]["error"], typeof apiErrorSchema, "patient_id" | "detail">>,
  Fits<FitsApi<ApiSchemas["Health"], typeof healthSchema>>,
  Fits<FitsApi<ApiSchemas["Metric"], typeof metricSchema>>,
  Fits<FitsApi<ApiSchemas["ModelCard"], typeof modelCardSchema, "intended_population" | "population_check">>,
  Fits<FitsApi<ApiSchemas["OperatingPoint"], typeof operatingPointSchema>>,
  Fits<FitsApi<ApiSchemas["ValidationReport"], typeof validationReportSchema>>,
  Fits<FitsApi<ApiSchemas["DicomTags"], typeof dicomTagsSchema>>,
  Fits<FitsApi<ApiSchemas["Inspect"], typeof inspectResultSchema>>,
  Fits<FitsApi<ApiSchemas["Patient"], typeof patientSchema>>,
  Fits<FitsApi<ApiSchemas["Patient"], typeof patientWithStudiesSchema>>,
  Fits<FitsApi<ApiSchemas["PatientPage"], typeof patientPageSchema>>,
  Fits<FitsApi<ApiSchemas["StoredPrediction"], typeof predictionSchema>>,
  Fits<FitsApi<ApiSchemas["Study"], typeof studySchema>>,
  Fits<FitsApi<ApiSchemas["Report"], typeof reportSchema>>,
  Fits<FitsApi<ApiSchemas["User"], typeof userSchema>>,
  Fits<FitsApi<ApiSchemas["SignedIn"], typeof loginResultSchema>>,
  Fits<FitsApi<ApiSchemas["Me"], typeof meSchema>>,
  Fits<FitsApi<ApiSchemas["UserWithPassword"], typeof userWithPasswordSchema>>,
  Fits<FitsApi<ApiSchemas["AuditEntry"], typeof auditEntrySchema>>,
];
