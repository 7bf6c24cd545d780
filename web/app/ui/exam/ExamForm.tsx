"use client";
import Link from "next/link";
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import * as realApi from "@/lib/api";
import { isApiError, type ApiError } from "@/lib/api";
import { SEXES, type DicomTags, type Patient, type PatientCreate, type Study } from "@/lib/definitions";
import {
  ageOn,
  dateFromDicom,
  isoDay,
  isRealDate,
  nameFromDicom,
  patientAge,
  sexFromDicom,
  sexLabel,
} from "@/lib/format";
import {
  EMPTY_PATIENT_FORM,
  FIELD_ORDER,
  MESSAGES,
  PATIENT_LIMITS,
  minBirthDate,
  validatePatientForm,
  type FormErrors,
  type FormField,
  type PatientField,
  type PatientFormValues,
} from "@/lib/validation";
import { RefusalNotice } from "../study/RefusalNotice";
import { ImageDropzone, type InspectState } from "./ImageDropzone";
import { SubmitProgress, type SubmitPhase } from "./SubmitProgress";

/** The API calls the form makes; injectable so that tests need no network. */
export type ExamApi = Pick<typeof realApi, "inspectImage" | "createPatient" | "uploadStudy">;

export const FIELD_IDS: Record<FormField, string> = {
  name: "patient-name",
  mrn: "patient-mrn",
  sex: "patient-sex",
  birth_date: "patient-birth-date",
  age_years: "patient-age",
  referring_doctor: "patient-doctor",
  notes: "patient-notes",
  image: "xray-file",
};

const FIELD_LABELS: Record<PatientField, string> = {
  name: "Patient name",
  mrn: "Patient ID (MRN)",
  sex: "Sex",
  birth_date: "Birth date",
  age_years: "Age (years)",
  referring_doctor: "Referring doctor",
  notes: "Symptoms and notes",
};

/** DICOM tags -> the form fields they can fill in. */
function dicomValues(tags: DicomTags | null | undefined): Partial<PatientFormValues> {
  if (!tags) return {};
  const out: Partial<PatientFormValues> = {};
  const name = nameFromDicom(tags.patient_name);
  if (name) out.name = name;
  const mrn = (tags.patient_id ?? "").trim();
  if (mrn) out.mrn = mrn;
  const sex = sexFromDicom(tags.sex);
  if (sex) out.sex = sex;
  const birth = dateFromDicom(tags.birth_date);
  if (birth) out.birth_date = birth;
  return out;
}

function FieldShell({
  field,
  label,
  hint,
  error,
  prefilled,
  children,
}: {
  field: PatientField;
  label: string;
  hint?: ReactNode;
  error?: string;
  prefilled?: boolean;
  children: ReactNode;
}) {
  const id = FIELD_IDS[field];
  return (
    <div className={`field${error ? " field--invalid" : ""}`}>
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {prefilled && (
        <p id={`${id}-prefilled`} className="hint hint--prefilled">
          Filled in from the DICOM header.
        </p>
      )}
      {children}
      {error && (
        <p id={`${id}-error`} className="field-error" data-testid={`error-${field}`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** The line above the form after a submit with errors ("" once there are none). */
function summaryText(errors: FormErrors): string {
  const n = FIELD_ORDER.filter((f) => errors[f]).length;
  if (n === 0) return "";
  return n === 1
    ? "One detail needs attention before the X-ray can be analysed."
    : `${n} details need attention before the X-ray can be analysed.`;
}

/** aria-describedby for a field: its hint, prefill note and error, when present. */
function describedBy(field: PatientField, hasHint: boolean, prefilled: boolean, error?: string): string | undefined {
  const id = FIELD_IDS[field];
  const ids = [hasHint && `${id}-hint`, prefilled && `${id}-prefilled`, error && `${id}-error`].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

/**
 * New examination: the patient's details, then the X-ray, then "Analyse X-ray", which
 * POSTs the patient, then the study, and hands the new study to `onDone`.
 */
export function ExamForm({
  onDone,
  api = realApi,
  today,
  patient = null,
}: {
  onDone: (study: Study) => void;
  api?: ExamApi;
  today?: Date;
  /** An existing patient (from /exam/?patient=N): only the X-ray is asked for. */
  patient?: Patient | null;
}) {
  const [values, setValues] = useState<PatientFormValues>(EMPTY_PATIENT_FORM);
  const [errors, setErrors] = useState<FormErrors>({});
  const [submitted, setSubmitted] = useState(false);
  const [summary, setSummary] = useState("");
  const userEdited = useRef(new Set<PatientField>());
  const [prefilled, setPrefilled] = useState<Set<PatientField>>(new Set());
  const [prefillNote, setPrefillNote] = useState("");

  const [file, setFile] = useState<File | null>(null);
  const [localPreview, setLocalPreview] = useState<string | null>(null);
  const [inspect, setInspect] = useState<InspectState>({ status: "idle" });
  const currentFile = useRef<File | null>(null);

  const [phase, setPhase] = useState<SubmitPhase>("idle");
  const [uploadFraction, setUploadFraction] = useState(0);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const createdPatient = useRef<{ key: string; patient: Patient } | null>(null);
  /** Set when the user chose to add the X-ray to the patient who already has the typed MRN. */
  const existingPatientId = useRef<number | null>(null);

  const fileInputRef = useRef<HTMLInputElement>(null);
  const browseRef = useRef<HTMLButtonElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const formId = useId();

  const busy = phase !== "idle" && phase !== "failed";
  const todayIso = isoDay(today ?? new Date());

  useEffect(() => {
    return () => {
      if (localPreview && typeof URL.revokeObjectURL === "function") URL.revokeObjectURL(localPreview);
    };
  }, [localPreview]);

  // Keep the summary's count in step with the fields once it is shown.
  useEffect(() => {
    setSummary((prev) => (prev ? summaryText(errors) : prev));
  }, [errors]);

  // "Analyse X-ray" pressed while the image was still being read: go on once it has been.
  useEffect(() => {
    if (phase === "checking" && inspect.status !== "loading") {
      formRef.current?.requestSubmit();
    }
  }, [phase, inspect.status]);

  function computeErrors(v: PatientFormValues, f: File | null, ins: InspectState): FormErrors {
    const errs: FormErrors = patient ? {} : { ...validatePatientForm(v, today ?? new Date()).errors };
    if (!f) errs.image = MESSAGES.imageRequired;
    else if (ins.status === "error" && isApiError(ins.error) && ins.error.kind === "http") {
      errs.image = `This file cannot be used: ${ins.error.message} Choose another image.`;
    }
    return errs;
  }

  function setField(field: PatientField, value: string) {
    userEdited.current.add(field);
    if (field === "mrn") existingPatientId.current = null;
    if (prefilled.has(field)) {
      const next = new Set(prefilled);
      next.delete(field);
      setPrefilled(next);
    }
    const next = { ...values, [field]: value } as PatientFormValues;
    setValues(next);
    if (submitted) {
      const errs = computeErrors(next, file, inspect);
      setErrors(errs);
    }
  }

  function applyDicom(tags: DicomTags | null | undefined) {
    if (patient) {
      const dicomId = (tags?.patient_id ?? "").trim();
      setPrefillNote(
        dicomId && dicomId !== patient.mrn
          ? `Check the patient: this DICOM file's patient ID is ${dicomId}, but ${patient.name}'s MRN is ${patient.mrn}.`
          : "",
      );
      return;
    }
    const fromDicom = dicomValues(tags);
    // Only the fields the user has not typed in are filled.
    const keys = (Object.keys(fromDicom) as PatientField[]).filter((k) => !userEdited.current.has(k));
    if (keys.length) {
      setValues((prev) => {
        const next = { ...prev };
        for (const k of keys) (next as Record<PatientField, string>)[k] = fromDicom[k] as string;
        return next;
      });
    }
    setPrefilled(new Set(keys));
    setPrefillNote(
      keys.length
        ? `Filled in from the DICOM header: ${keys.map((k) => FIELD_LABELS[k]).join(", ")}.`
        : tags
          ? "This DICOM file's header did not change any of the details you typed."
          : "",
    );
  }

  function chooseFile(f: File) {
    currentFile.current = f;
    setFile(f);
    setRefusal(null);
    setSubmitError(null);
    setPhase("idle");
    const canPreview = /^image\/(png|jpeg)$/.test(f.type) && typeof URL.createObjectURL === "function";
    setLocalPreview(canPreview ? URL.createObjectURL(f) : null);
    setInspect({ status: "loading" });
    api.inspectImage(f).then(
      (result) => {
        if (currentFile.current !== f) return;
        setInspect({ status: "done", result });
        applyDicom(result.dicom);
        if (submitted) setErrors((prev) => ({ ...prev, image: undefined }));
      },
      (error: unknown) => {
        if (currentFile.current !== f) return;
        setInspect({ status: "error", error });
      },
    );
    if (submitted) setErrors((prev) => ({ ...prev, image: undefined }));
  }

  function removeFile() {
    currentFile.current = null;
    setFile(null);
    setLocalPreview(null);
    setInspect({ status: "idle" });
    setPrefilled(new Set());
    setPrefillNote("");
    if (submitted) setErrors((prev) => ({ ...prev, image: MESSAGES.imageRequired }));
  }

  function tryAnotherImage() {
    removeFile();
    setRefusal(null);
    setPhase("idle");
    setErrors((prev) => ({ ...prev, image: undefined }));
    setTimeout(() => browseRef.current?.focus(), 0);
  }

  async function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy && phase !== "checking") return;
    setSubmitted(true);
    setRefusal(null);
    setSubmitError(null);

    // Let a running /api/inspect finish first (its DICOM prefill and its verdict count):
    // the effect below submits again once it has.
    if (inspect.status === "loading") {
      setPhase("checking");
      return;
    }
    if (phase === "checking") setPhase("idle");
    const errs = computeErrors(values, file, inspect);
    setErrors(errs);
    const invalid = FIELD_ORDER.filter((f) => errs[f]);
    const res = patient ? null : validatePatientForm(values, today ?? new Date());
    if (invalid.length > 0 || !file || (res && !res.ok)) {
      setSummary(summaryText(errs));
      const first = invalid[0];
      if (first === "image") browseRef.current?.focus();
      else if (first) document.getElementById(FIELD_IDS[first])?.focus();
      return;
    }
    setSummary("");

    try {
      setPhase("saving");
      let patientId: number;
      if (patient) {
        patientId = patient.id;
      } else if (!res?.ok) {
        return;
      } else if (existingPatientId.current != null) {
        patientId = existingPatientId.current;
      } else if (createdPatient.current && createdPatient.current.key === JSON.stringify(res.body)) {
        patientId = createdPatient.current.patient.id;
      } else {
        const created = await api.createPatient(res.body satisfies PatientCreate);
        createdPatient.current = { key: JSON.stringify(res.body), patient: created };
        patientId = created.id;
      }
      setPhase("uploading");
      setUploadFraction(0);
      const study = await api.uploadStudy(file, patientId, (fraction) => {
        setUploadFraction(fraction);
        if (fraction >= 1) setPhase("analysing");
      });
      setPhase("done");
      onDone(study);
    } catch (err) {
      if (isApiError(err) && err.isRefusal) {
        setRefusal(err);
        setPhase("idle");
      } else {
        // A field the server objected to is marked like the form's own errors.
        const field = isApiError(err) ? err.field : null;
        if (field && field in FIELD_IDS) {
          setErrors((prev) => ({ ...prev, [field]: err instanceof Error ? err.message : String(err) }));
          // After the re-render that enables the fieldsets again (disabled fields cannot take focus).
          setTimeout(() => {
            if (field === "image") browseRef.current?.focus();
            else document.getElementById(FIELD_IDS[field as FormField])?.focus();
          }, 0);
        }
        setSubmitError(err);
        setPhase("failed");
      }
    }
  }

  function addToExistingPatient(id: number) {
    existingPatientId.current = id;
    setSubmitError(null);
    setErrors((prev) => ({ ...prev, mrn: undefined }));
    setPhase("idle");
    setTimeout(() => formRef.current?.requestSubmit(), 0);
  }

  const err = (f: PatientField) => errors[f];
  const pre = (f: PatientField) => prefilled.has(f);
  const birthAge =
    values.birth_date && isRealDate(values.birth_date) && values.birth_date <= todayIso
      ? ageOn(values.birth_date, today ?? new Date())
      : null;

  return (
    <form ref={formRef} noValidate onSubmit={onSubmit} aria-labelledby={`${formId}-title`} className="exam-form">
      <h1 id={`${formId}-title`}>{patient ? `New examination for ${patient.name}` : "New examination"}</h1>
      <p className="lead">
        {patient
          ? "Add the patient's chest X-ray and PneumoScan will analyse it."
          : "Enter the patient's details, add their chest X-ray, and PneumoScan will analyse it. Fields marked optional may be left empty."}
      </p>

      <div role="alert" className={summary ? "notice notice--error" : undefined} data-testid="form-summary">
        {summary && <p className="notice__title">{summary}</p>}
      </div>

      {patient ? (
        <section className="fieldset" aria-labelledby="exam-patient-title" data-testid="exam-patient">
          <h2 id="exam-patient-title" className="fieldset__title">
            1. Patient
          </h2>
          <dl className="dl">
            <dt>Name</dt>
            <dd>{patient.name}</dd>
            <dt>Patient ID (MRN)</dt>
            <dd>{patient.mrn}</dd>
            <dt>Sex</dt>
            <dd>{sexLabel(patient.sex)}</dd>
            <dt>Age</dt>
            <dd>{patientAge(patient)}</dd>
          </dl>
          <p className="actions">
            <Link href={`/patient/?id=${patient.id}`}>Patient record</Link>
            <Link href="/exam/">New patient instead</Link>
          </p>
        </section>
      ) : (
        <fieldset className="fieldset" disabled={busy}>
          <legend>1. Patient details</legend>
          <div className="grid-2">
            <FieldShell field="name" label="Patient name" error={err("name")} prefilled={pre("name")}>
              <input
                id={FIELD_IDS.name}
                name="name"
                type="text"
                autoComplete="off"
                value={values.name}
                onChange={(e) => setField("name", e.target.value)}
                aria-invalid={err("name") ? true : undefined}
                aria-required="true"
                aria-describedby={describedBy("name", false, pre("name"), err("name"))}
              />
            </FieldShell>
            <FieldShell
              field="mrn"
              label="Patient ID (MRN)"
              hint="The medical record number."
              error={err("mrn")}
              prefilled={pre("mrn")}
            >
              <input
                id={FIELD_IDS.mrn}
                name="mrn"
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={values.mrn}
                onChange={(e) => setField("mrn", e.target.value)}
                aria-invalid={err("mrn") ? true : undefined}
                aria-required="true"
                aria-describedby={describedBy("mrn", true, pre("mrn"), err("mrn"))}
              />
            </FieldShell>
            <FieldShell field="sex" label="Sex" error={err("sex")} prefilled={pre("sex")}>
              <select
                id={FIELD_IDS.sex}
                name="sex"
                value={values.sex}
                onChange={(e) => setField("sex", e.target.value)}
                aria-invalid={err("sex") ? true : undefined}
                aria-required="true"
                aria-describedby={describedBy("sex", false, pre("sex"), err("sex"))}
              >
                <option value="">Select…</option>
                {SEXES.map((s) => (
                  <option key={s} value={s}>
                    {sexLabel(s)}
                  </option>
                ))}
              </select>
            </FieldShell>
          </div>

          <fieldset className="fieldset fieldset--inner">
            <legend>Birth date or age</legend>
            <p className="hint" id="birth-or-age-hint">
              Give the birth date if you know it, otherwise the age in whole years.
            </p>
            <div className="grid-2">
              <FieldShell
                field="birth_date"
                label="Birth date"
                error={err("birth_date")}
                prefilled={pre("birth_date")}
                hint={birthAge != null ? `Age today: ${birthAge} ${birthAge === 1 ? "year" : "years"}.` : undefined}
              >
                <input
                  id={FIELD_IDS.birth_date}
                  name="birth_date"
                  type="date"
                  min={minBirthDate(today ?? new Date())}
                  max={todayIso}
                  value={values.birth_date}
                  onChange={(e) => setField("birth_date", e.target.value)}
                  aria-invalid={err("birth_date") ? true : undefined}
                  aria-describedby={describedBy("birth_date", birthAge != null, pre("birth_date"), err("birth_date"))}
                />
              </FieldShell>
              <FieldShell field="age_years" label="Age (years)" error={err("age_years")}>
                <input
                  id={FIELD_IDS.age_years}
                  name="age_years"
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={PATIENT_LIMITS.maxAgeYears}
                  step={1}
                  value={values.age_years}
                  onChange={(e) => setField("age_years", e.target.value)}
                  aria-invalid={err("age_years") ? true : undefined}
                  aria-describedby={describedBy("age_years", false, false, err("age_years"))}
                />
              </FieldShell>
            </div>
          </fieldset>

          <div className="grid-2">
            <FieldShell
              field="referring_doctor"
              label="Referring doctor"
              hint="Optional."
              error={err("referring_doctor")}
            >
              <input
                id={FIELD_IDS.referring_doctor}
                name="referring_doctor"
                type="text"
                autoComplete="off"
                value={values.referring_doctor}
                onChange={(e) => setField("referring_doctor", e.target.value)}
                aria-invalid={err("referring_doctor") ? true : undefined}
                aria-describedby={describedBy("referring_doctor", true, false, err("referring_doctor"))}
              />
            </FieldShell>
          </div>
          <FieldShell
            field="notes"
            label="Symptoms and notes"
            hint="Optional. For example: fever for 3 days, cough, fast breathing."
            error={err("notes")}
          >
            <textarea
              id={FIELD_IDS.notes}
              name="notes"
              rows={3}
              value={values.notes}
              onChange={(e) => setField("notes", e.target.value)}
              aria-invalid={err("notes") ? true : undefined}
              aria-describedby={describedBy("notes", true, false, err("notes"))}
            />
          </FieldShell>
        </fieldset>
      )}

      <fieldset className="fieldset" disabled={busy}>
        <legend>2. Chest X-ray</legend>
        <ImageDropzone
          file={file}
          inspect={inspect}
          localPreview={localPreview}
          error={errors.image}
          disabled={busy}
          inputRef={fileInputRef}
          browseRef={browseRef}
          onChoose={chooseFile}
          onRemove={removeFile}
        />
        <p className="visually-hidden" role="status" aria-live="polite" data-testid="prefill-status">
          {prefillNote}
        </p>
        {prefillNote && (
          <p className="hint hint--prefilled" aria-hidden="true">
            {prefillNote}
          </p>
        )}
      </fieldset>

      {refusal && <RefusalNotice error={refusal} onTryAnother={tryAnotherImage} />}

      {submitError != null && (
        <div className="notice notice--error" role="alert" data-testid="api-error">
          <h2 className="notice__title">The examination could not be saved</h2>
          <p className="notice__message" data-testid="api-error-message">
            {realApi.errorMessage(submitError)}
          </p>
          {isApiError(submitError) && submitError.status === 401 ? (
            <p>
              Your session has ended.{" "}
              <a href="/login/" target="_blank" rel="noopener noreferrer">
                Sign in again in a new tab
              </a>
              , then come back and press &quot;Analyse X-ray&quot;: what you typed here is kept.
            </p>
          ) : isApiError(submitError) && submitError.code === "duplicate_mrn" && submitError.patientId != null ? (
            <>
              <p>
                If this is the same patient, add the X-ray to their record (their saved details are kept). Otherwise
                correct the patient ID (MRN).
              </p>
              <p className="notice__actions">
                <button
                  type="button"
                  className="button"
                  onClick={() => addToExistingPatient(submitError.patientId as number)}
                >
                  Add the X-ray to the existing patient
                </button>
                <a href={`/patient/?id=${submitError.patientId}`} target="_blank" rel="noopener noreferrer">
                  See that patient&apos;s record (new tab)
                </a>
              </p>
            </>
          ) : (
            <p>
              Your details are kept. Correct the problem if there is one, then press &quot;Analyse X-ray&quot; again.
            </p>
          )}
        </div>
      )}

      <div className="form-actions">
        <button type="submit" className="button button--primary" aria-disabled={busy || undefined}>
          Analyse X-ray
        </button>
      </div>
      <SubmitProgress phase={phase} uploadFraction={uploadFraction} />
    </form>
  );
}
