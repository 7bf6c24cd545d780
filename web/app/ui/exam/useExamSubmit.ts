"use client";
/**
 * "Analyse X-ray" as a state machine: a reducer over the phases of one examination's submit, and
 * the hook that runs the requests (save the patient, upload the study) and moves focus after the
 * render that follows a phase change (no timers: the effect runs once disabled fields are enabled).
 */
import { useEffect, useReducer, useRef } from "react";
import type * as api from "@/lib/api";
import { errorMessage, isApiError, type ApiError } from "@/lib/api";
import type { Patient, PatientCreate, Study } from "@/lib/definitions";
import { FIELD_ORDER, type FormField } from "@/lib/validation";

/** The API calls an examination makes; injectable so that tests need no network. */
export type ExamApi = Pick<typeof api, "inspectImage" | "createPatient" | "uploadStudy">;

/**
 * editing: the form takes input. reading_image: "Analyse" was pressed while /api/inspect was
 * still reading the file; the form goes on once it has. submitting: the requests are running
 * (`step`). done: the study exists (the page moves on). refused: the server would not read the
 * image (422 not_chest_xray). error: any other failure; the form keeps what was typed.
 */
export type ExamPhase = "editing" | "reading_image" | "submitting" | "done" | "refused" | "error";
export type SubmitStep = "saving" | "uploading" | "analysing";

export interface ExamSubmitState {
  phase: ExamPhase;
  /** The request running while submitting (the last one reached once done). */
  step: SubmitStep;
  uploadFraction: number;
  /** "Analyse X-ray" has been pressed: the fields' own errors are shown from then on. */
  showErrors: boolean;
  /** The last press stopped on the form's own errors: the summary above the form is shown. */
  showSummary: boolean;
  refusal: ApiError | null;
  error: unknown;
  /** A field the server objected to, marked like the form's own errors until the next edit or press. */
  serverError: { field: FormField; message: string } | null;
  /** Where focus goes after the next render; `seq` makes a repeat of the same target count. */
  focus: { target: FormField; seq: number } | null;
}

export type ExamSubmitAction =
  | { type: "wait_for_image" }
  | { type: "invalid"; first: FormField }
  | { type: "start" }
  | { type: "uploading" }
  | { type: "progress"; fraction: number }
  | { type: "done" }
  | { type: "refused"; refusal: ApiError }
  | { type: "failed"; error: unknown }
  | { type: "edited" }
  | { type: "new_image" }
  | { type: "try_another_image" }
  | { type: "use_existing_patient" };

export const INITIAL_SUBMIT_STATE: ExamSubmitState = {
  phase: "editing",
  step: "saving",
  uploadFraction: 0,
  showErrors: false,
  showSummary: false,
  refusal: null,
  error: null,
  serverError: null,
  focus: null,
};

/** Phases in which the form's fields are disabled and another press is ignored. */
export function isBusy(phase: ExamPhase): boolean {
  return phase === "reading_image" || phase === "submitting" || phase === "done";
}

function focusOn(state: ExamSubmitState, target: FormField): ExamSubmitState["focus"] {
  return { target, seq: (state.focus?.seq ?? 0) + 1 };
}

/** The form field an API error names, when it is one of the form's. */
function formFieldOf(err: unknown): FormField | null {
  const field = isApiError(err) ? err.field : null;
  return field && (FIELD_ORDER as string[]).includes(field) ? (field as FormField) : null;
}

/** A cleared outcome: no refusal, no error, nothing marked by the server. */
const CLEAR = { refusal: null, error: null, serverError: null } as const;

export function examSubmitReducer(state: ExamSubmitState, action: ExamSubmitAction): ExamSubmitState {
  switch (action.type) {
    case "wait_for_image":
      if (isBusy(state.phase)) return state;
      return { ...state, ...CLEAR, phase: "reading_image", showErrors: true };
    case "invalid":
      if (state.phase === "submitting" || state.phase === "done") return state;
      return {
        ...state,
        ...CLEAR,
        phase: "editing",
        showErrors: true,
        showSummary: true,
        focus: focusOn(state, action.first),
      };
    case "start":
      if (state.phase === "submitting" || state.phase === "done") return state;
      return {
        ...state,
        ...CLEAR,
        phase: "submitting",
        step: "saving",
        uploadFraction: 0,
        showErrors: true,
        showSummary: false,
      };
    case "uploading":
      return state.phase === "submitting" ? { ...state, step: "uploading", uploadFraction: 0 } : state;
    case "progress":
      if (state.phase !== "submitting") return state;
      return { ...state, uploadFraction: action.fraction, step: action.fraction >= 1 ? "analysing" : state.step };
    case "done":
      return state.phase === "submitting" ? { ...state, phase: "done" } : state;
    case "refused":
      return { ...state, ...CLEAR, phase: "refused", refusal: action.refusal };
    case "failed": {
      const field = formFieldOf(action.error);
      return {
        ...state,
        ...CLEAR,
        phase: "error",
        error: action.error,
        serverError: field ? { field, message: errorMessage(action.error) } : null,
        focus: field ? focusOn(state, field) : state.focus,
      };
    }
    case "edited":
      return state.serverError ? { ...state, serverError: null } : state;
    case "new_image":
      if (isBusy(state.phase)) return state;
      return { ...state, ...CLEAR, phase: "editing" };
    case "try_another_image":
      // A fresh start on the image: its "required" error waits for the next press.
      return {
        ...state,
        ...CLEAR,
        phase: "editing",
        showErrors: false,
        showSummary: false,
        focus: focusOn(state, "image"),
      };
    case "use_existing_patient":
      return { ...state, ...CLEAR, phase: "editing" };
  }
}

/**
 * The submit of one examination: `run` saves the patient (once: a retry reuses the one it made)
 * and uploads the study; `focusField` is called after the render that follows a phase change
 * that moves focus (the form's errors, the server's field, "Try another image").
 */
export function useExamSubmit({
  api,
  patient,
  onDone,
  focusField,
}: {
  api: ExamApi;
  patient: Patient | null;
  onDone: (study: Study) => void;
  focusField: (field: FormField) => void;
}) {
  const [state, dispatch] = useReducer(examSubmitReducer, INITIAL_SUBMIT_STATE);
  const createdPatient = useRef<{ key: string; patient: Patient } | null>(null);
  /** Set when the user chose to add the X-ray to the patient who already has the typed MRN. */
  const existingPatientId = useRef<number | null>(null);
  const focusRef = useRef(focusField);
  focusRef.current = focusField;

  useEffect(() => {
    if (state.focus) focusRef.current(state.focus.target);
  }, [state.focus]);

  async function patientIdFor(body: PatientCreate | null): Promise<number> {
    if (patient) return patient.id;
    if (existingPatientId.current != null) return existingPatientId.current;
    if (!body) throw new Error("The patient's details are missing.");
    const key = JSON.stringify(body);
    if (createdPatient.current?.key === key) return createdPatient.current.patient.id;
    const created = await api.createPatient(body);
    createdPatient.current = { key, patient: created };
    return created.id;
  }

  /** Save the patient (unless known) and upload the X-ray; hands the study to `onDone`. */
  async function run(file: File, body: PatientCreate | null): Promise<void> {
    dispatch({ type: "start" });
    try {
      const patientId = await patientIdFor(body);
      dispatch({ type: "uploading" });
      const study = await api.uploadStudy(file, patientId, (fraction) => dispatch({ type: "progress", fraction }));
      dispatch({ type: "done" });
      onDone(study);
    } catch (err) {
      if (isApiError(err) && err.isRefusal) dispatch({ type: "refused", refusal: err });
      else dispatch({ type: "failed", error: err });
    }
  }

  return {
    state,
    busy: isBusy(state.phase),
    dispatch,
    run,
    /** The next run adds the X-ray to this patient (the one who already has the typed MRN). */
    addToExistingPatient(id: number) {
      existingPatientId.current = id;
      dispatch({ type: "use_existing_patient" });
    },
    /** The MRN changed: the next run saves a patient again. */
    forgetExistingPatient() {
      existingPatientId.current = null;
    },
  };
}
