"use client";
import { useEffect, useId, useRef, useState } from "react";
import * as realApi from "@/lib/api";
import { isApiError } from "@/lib/api";
import type { DicomTags, InspectResult, IntendedPopulation, Patient, Study } from "@/lib/definitions";
import { dateFromDicom, nameFromDicom, sexFromDicom } from "@/lib/format";
import { ageFromForm, patientAgeYears } from "@/lib/population";
import {
  EMPTY_PATIENT_FORM,
  FIELD_ORDER,
  MESSAGES,
  validatePatientForm,
  type FormErrors,
  type FormField,
  type PatientField,
  type PatientFormValues,
} from "@/lib/validation";
import { RefusalNotice } from "../study/RefusalNotice";
import type { InspectState } from "./ImageDropzone";
import { ImageStep, useChosenImage } from "./ImageStep";
import { ExistingPatient, FIELD_IDS, FIELD_LABELS, PatientFields, PopulationWarning } from "./PatientFields";
import { SubmitError } from "./SubmitError";
import { SubmitProgress } from "./SubmitProgress";
import { useExamSubmit, type ExamApi } from "./useExamSubmit";

export { FIELD_IDS };
export type { ExamApi };

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

/** The line above the form after a press with errors ("" once there are none). */
function summaryText(errors: FormErrors): string {
  const n = FIELD_ORDER.filter((f) => errors[f]).length;
  if (n === 0) return "";
  return n === 1
    ? "One detail needs attention before the X-ray can be analysed."
    : `${n} details need attention before the X-ray can be analysed.`;
}

/**
 * New examination: the patient's details (PatientFields), then the X-ray (ImageStep), then
 * "Analyse X-ray", which saves the patient and uploads the study (useExamSubmit) and hands the
 * new study to `onDone`.
 */
export function ExamForm({
  onDone,
  api = realApi,
  today: todayProp,
  patient = null,
  population = null,
}: {
  onDone: (study: Study) => void;
  api?: ExamApi;
  today?: Date;
  /** An existing patient (from /exam/?patient=N): only the X-ray is asked for. */
  patient?: Patient | null;
  /** The model card's intended population: an age outside it is warned about before upload. */
  population?: IntendedPopulation | null;
}) {
  const today = todayProp ?? new Date();
  const [values, setValues] = useState<PatientFormValues>(EMPTY_PATIENT_FORM);
  const userEdited = useRef(new Set<PatientField>());
  const [prefilled, setPrefilled] = useState<Set<PatientField>>(new Set());
  const [prefillNote, setPrefillNote] = useState("");
  const browseRef = useRef<HTMLButtonElement>(null);
  const formId = useId();

  const image = useChosenImage(api.inspectImage, (result: InspectResult) => applyDicom(result.dicom));
  const submit = useExamSubmit({
    api,
    patient,
    onDone,
    focusField: (field: FormField) => {
      if (field === "image") browseRef.current?.focus();
      else document.getElementById(FIELD_IDS[field])?.focus();
    },
  });
  const { state, busy } = submit;

  function fieldErrors(v: PatientFormValues, file: File | null, inspect: InspectState): FormErrors {
    const errs: FormErrors = patient ? {} : { ...validatePatientForm(v, today).errors };
    if (!file) errs.image = MESSAGES.imageRequired;
    else if (inspect.status === "error" && isApiError(inspect.error) && inspect.error.kind === "http") {
      errs.image = `This file cannot be used: ${inspect.error.message} Choose another image.`;
    }
    return errs;
  }

  const errors: FormErrors = {
    ...(state.showErrors ? fieldErrors(values, image.file, image.inspect) : {}),
    ...(state.serverError ? { [state.serverError.field]: state.serverError.message } : {}),
  };
  const summary = state.showSummary ? summaryText(errors) : "";

  function setField(field: PatientField, value: string) {
    userEdited.current.add(field);
    if (field === "mrn") submit.forgetExistingPatient();
    if (prefilled.has(field)) {
      const next = new Set(prefilled);
      next.delete(field);
      setPrefilled(next);
    }
    setValues((prev) => ({ ...prev, [field]: value }));
    submit.dispatch({ type: "edited" });
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
    if (keys.length) setValues((prev) => ({ ...prev, ...Object.fromEntries(keys.map((k) => [k, fromDicom[k]])) }));
    setPrefilled(new Set(keys));
    setPrefillNote(
      keys.length
        ? `Filled in from the DICOM header: ${keys.map((k) => FIELD_LABELS[k]).join(", ")}.`
        : tags
          ? "This DICOM file's header did not change any of the details you typed."
          : "",
    );
  }

  function chooseFile(file: File) {
    image.choose(file);
    submit.dispatch({ type: "new_image" });
  }

  function removeFile() {
    image.remove();
    setPrefilled(new Set());
    setPrefillNote("");
  }

  /** "Analyse X-ray": wait for the image to be read, stop on the form's errors, or run the submit. */
  function analyse() {
    if (busy && state.phase !== "reading_image") return;
    // Let a running /api/inspect finish first (its DICOM prefill and its verdict count):
    // the effect below presses again once it has.
    if (image.inspect.status === "loading") {
      submit.dispatch({ type: "wait_for_image" });
      return;
    }
    const res = patient ? null : validatePatientForm(values, today);
    const first = FIELD_ORDER.find((f) => fieldErrors(values, image.file, image.inspect)[f]);
    if (first || !image.file || (res && !res.ok)) {
      submit.dispatch({ type: "invalid", first: first ?? "image" });
      return;
    }
    void submit.run(image.file, res?.ok ? res.body : null);
  }

  // "Analyse X-ray" pressed while the image was still being read: go on once it has been.
  useEffect(() => {
    if (state.phase === "reading_image" && image.inspect.status !== "loading") analyse();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state.phase, image.inspect.status]);

  const age = patient ? patientAgeYears(patient, today) : ageFromForm(values.birth_date, values.age_years, today);
  const warning = <PopulationWarning age={age} population={population} />;

  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        analyse();
      }}
      aria-labelledby={`${formId}-title`}
      className="exam-form"
    >
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
        <ExistingPatient patient={patient}>{warning}</ExistingPatient>
      ) : (
        <PatientFields
          values={values}
          errors={errors}
          prefilled={prefilled}
          disabled={busy}
          today={today}
          onChange={setField}
        >
          {warning}
        </PatientFields>
      )}

      <ImageStep
        image={image}
        error={errors.image}
        disabled={busy}
        browseRef={browseRef}
        prefillNote={prefillNote}
        onChoose={chooseFile}
        onRemove={removeFile}
      />

      {state.phase === "refused" && state.refusal && (
        <RefusalNotice
          error={state.refusal}
          population={population}
          onTryAnother={() => {
            removeFile();
            submit.dispatch({ type: "try_another_image" });
          }}
        />
      )}

      {state.phase === "error" && (
        <SubmitError
          error={state.error}
          onAddToExisting={(id) => {
            submit.addToExistingPatient(id);
            analyse();
          }}
        />
      )}

      <div className="form-actions">
        <button type="submit" className="button button--primary" aria-disabled={busy || undefined}>
          Analyse X-ray
        </button>
      </div>
      <SubmitProgress state={state} />
    </form>
  );
}
