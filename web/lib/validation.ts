/**
 * The new-examination form's validation (zod), with one plain message per field.
 * The form's raw values are strings (as typed); a valid form becomes a PatientCreate body.
 */
import { z } from "./zod";
import { SEXES, type PatientCreate, type Sex } from "./definitions";
import { ageOn, isoDay, isRealDate } from "./format";

export interface PatientFormValues {
  name: string;
  mrn: string;
  sex: "" | Sex;
  birth_date: string;
  age_years: string;
  referring_doctor: string;
  notes: string;
}

export type PatientField = keyof PatientFormValues;
/** `image` is the X-ray file; it is validated with the patient fields so one submit shows all errors. */
export type FormField = PatientField | "image";
export type FormErrors = Partial<Record<FormField, string>>;

export const EMPTY_PATIENT_FORM: PatientFormValues = {
  name: "",
  mrn: "",
  sex: "",
  birth_date: "",
  age_years: "",
  referring_doctor: "",
  notes: "",
};

/**
 * The server's limits on a patient, copied from src/pneumoscan/api/views/patients.py
 * (`_LIMITS`, `_MAX_AGE`, `_birth_date`, and `parse_patient`'s age/birth-date check).
 * Change them there first; the server's answer is the final word either way.
 */
export const PATIENT_LIMITS = {
  /** Characters after trimming (`_LIMITS`). */
  nameMaxChars: 200,
  mrnMaxChars: 64,
  referringDoctorMaxChars: 200,
  notesMaxChars: 5000,
  /** Whole years, inclusive (`_MAX_AGE`); a birth date may lie at most this many calendar years back. */
  maxAgeYears: 130,
  /** An age and a birth date that differ by more than this many years contradict each other. */
  ageBirthDateToleranceYears: 1,
} as const;

/** The earliest birth date the server accepts on `today`: 1 January, `maxAgeYears` years back. */
export function minBirthDate(today: Date = new Date()): string {
  return `${today.getFullYear() - PATIENT_LIMITS.maxAgeYears}-01-01`;
}

export const MESSAGES = {
  nameRequired: "Enter the patient's name.",
  nameTooLong: `The name is too long: use at most ${PATIENT_LIMITS.nameMaxChars} characters.`,
  mrnRequired: "Enter the patient ID (MRN).",
  mrnTooLong: `The patient ID is too long: use at most ${PATIENT_LIMITS.mrnMaxChars} characters.`,
  nulChar: "Remove the invisible NUL character (pasted from another program) from this field.",
  sexRequired: "Select the patient's sex (choose Unknown if it is not recorded).",
  birthOrAgeRequired: "Enter the birth date or the age in years.",
  birthDateInvalid: "Enter the birth date as a real date, for example 2019-04-23.",
  birthDateFuture: "The birth date cannot be in the future.",
  birthDateTooOld: (min: string) => `The birth date must be on or after ${min}.`,
  ageNotNumber: "Enter the age as a whole number of years, for example 7.",
  ageRange: `The age must be between 0 and ${PATIENT_LIMITS.maxAgeYears} years.`,
  ageMismatch: (computed: number) =>
    `The age does not match the birth date (which gives ${computed} ${computed === 1 ? "year" : "years"}). Correct one of them, or leave the age empty.`,
  doctorTooLong: `The referring doctor's name is too long: use at most ${PATIENT_LIMITS.referringDoctorMaxChars} characters.`,
  notesTooLong: `The notes are too long: use at most ${PATIENT_LIMITS.notesMaxChars} characters.`,
  imageRequired: "Choose a chest X-ray image (PNG, JPEG or DICOM).",
} as const;

/** Length as Python counts it (code points), so that the limits agree with the server's. */
function chars(s: string): number {
  return [...s].length;
}

/** A trimmed text field: at most `max` characters and no NUL (the server refuses both). */
function text(max: number, tooLong: string) {
  return z
    .string()
    .trim()
    .refine((s) => chars(s) <= max, tooLong)
    .refine((s) => !s.includes("\0"), MESSAGES.nulChar);
}

/** Build the schema for a given "today" (so tests can pin the date). */
export function patientFormSchema(today: Date = new Date()) {
  const todayIso = isoDay(today);
  const minBirth = minBirthDate(today);
  return z
    .object({
      name: text(PATIENT_LIMITS.nameMaxChars, MESSAGES.nameTooLong).refine((s) => s !== "", MESSAGES.nameRequired),
      mrn: text(PATIENT_LIMITS.mrnMaxChars, MESSAGES.mrnTooLong).refine((s) => s !== "", MESSAGES.mrnRequired),
      sex: z.union([z.enum(SEXES), z.literal("")]).refine((v) => v !== "", MESSAGES.sexRequired),
      birth_date: z.string().trim(),
      age_years: z.string().trim(),
      referring_doctor: text(PATIENT_LIMITS.referringDoctorMaxChars, MESSAGES.doctorTooLong),
      notes: text(PATIENT_LIMITS.notesMaxChars, MESSAGES.notesTooLong),
    })
    .superRefine((v, ctx) => {
      const hasBirth = v.birth_date !== "";
      const hasAge = v.age_years !== "";
      if (!hasBirth && !hasAge) {
        ctx.addIssue({ code: "custom", path: ["birth_date"], message: MESSAGES.birthOrAgeRequired });
        return;
      }
      let birthOk = false;
      if (hasBirth) {
        if (!isRealDate(v.birth_date)) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: MESSAGES.birthDateInvalid });
        } else if (v.birth_date > todayIso) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: MESSAGES.birthDateFuture });
        } else if (v.birth_date < minBirth) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: MESSAGES.birthDateTooOld(minBirth) });
        } else {
          birthOk = true;
        }
      }
      if (hasAge) {
        const age = Number(v.age_years);
        if (!Number.isFinite(age) || !Number.isInteger(age)) {
          ctx.addIssue({ code: "custom", path: ["age_years"], message: MESSAGES.ageNotNumber });
        } else {
          if (age < 0 || age > PATIENT_LIMITS.maxAgeYears) {
            ctx.addIssue({ code: "custom", path: ["age_years"], message: MESSAGES.ageRange });
          } else if (birthOk) {
            const computed = ageOn(v.birth_date, today);
            if (Math.abs(computed - age) > PATIENT_LIMITS.ageBirthDateToleranceYears) {
              ctx.addIssue({ code: "custom", path: ["age_years"], message: MESSAGES.ageMismatch(computed) });
            }
          }
        }
      }
    });
}

export type ValidationResult =
  { ok: true; body: PatientCreate; errors: FormErrors } | { ok: false; errors: FormErrors };

/** Validate the typed values; on success also return the POST /api/patients body. */
export function validatePatientForm(values: PatientFormValues, today: Date = new Date()): ValidationResult {
  const parsed = patientFormSchema(today).safeParse(values);
  if (!parsed.success) {
    const errors: FormErrors = {};
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as PatientField | undefined;
      if (key && !errors[key]) errors[key] = issue.message;
    }
    return { ok: false, errors };
  }
  const v = parsed.data;
  const body: PatientCreate = { name: v.name, mrn: v.mrn };
  if (v.sex) body.sex = v.sex;
  if (v.birth_date) body.birth_date = v.birth_date;
  else if (v.age_years) body.age_years = Number(v.age_years);
  if (v.referring_doctor) body.referring_doctor = v.referring_doctor;
  if (v.notes) body.notes = v.notes;
  return { ok: true, body, errors: {} };
}

/** The order in which errors are announced and focused. */
export const FIELD_ORDER: FormField[] = [
  "name",
  "mrn",
  "sex",
  "birth_date",
  "age_years",
  "referring_doctor",
  "notes",
  "image",
];
