/**
 * The new-examination form's validation (zod), with one plain message per field.
 * The form's raw values are strings (as typed); a valid form becomes a PatientCreate body.
 * The limits it checks are the server's, read from the OpenAPI document (lib/generated/openapi.json).
 */
import { z } from "./zod";
import { SEXES, type PatientCreate, type Sex } from "./definitions";
import { ageOn, isoDay, isRealDate } from "./format";
import openapi from "./generated/openapi.json";

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

/** What the form reads of an OpenAPI document: `components.schemas.PatientInput`. */
export interface OpenApiDocumentLike {
  components?: { schemas?: Record<string, unknown> };
}

/** The server's limits on a patient, as its OpenAPI document declares them on `PatientInput`. */
export interface PatientLimits {
  /** Characters after trimming (`maxLength`). */
  nameMaxChars: number;
  mrnMaxChars: number;
  referringDoctorMaxChars: number;
  notesMaxChars: number;
  /** Whole years, inclusive (`age_years` `minimum`/`maximum`); a birth date may lie at most `maxAgeYears` calendar years back. */
  minAgeYears: number;
  maxAgeYears: number;
  /** An age and a birth date that differ by more than this many years contradict each other (`x-age-birth-date-tolerance-years`). */
  ageBirthDateToleranceYears: number;
  /** The characters an MRN may use (`mrn` `pattern`, compiled as JSON Schema says: ECMA-262, `u` flag); null when the document sets none. */
  mrnPattern: RegExp | null;
}

type SchemaLike = Record<string, unknown>;

function isSchema(value: unknown): value is SchemaLike {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `key` of a property's schema, also inside its anyOf/oneOf/allOf branches (how nullable fields may be written). */
function keyword(schema: unknown, key: string): unknown {
  if (!isSchema(schema)) return undefined;
  if (key in schema) return schema[key];
  for (const branches of [schema.anyOf, schema.oneOf, schema.allOf]) {
    if (!Array.isArray(branches)) continue;
    for (const branch of branches) {
      const found = keyword(branch, key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Read the patient limits from an OpenAPI document (the committed lib/generated/openapi.json, or a
 * test's own). Throws when one is missing: the form would otherwise check less than the server does.
 */
export function patientLimits(document: OpenApiDocumentLike): PatientLimits {
  const input = document.components?.schemas?.PatientInput;
  if (!isSchema(input) || !isSchema(input.properties)) {
    throw new Error("The OpenAPI document has no PatientInput schema with properties; regenerate it (make api-types).");
  }
  const properties = input.properties;
  const number = (value: unknown, where: string): number => {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(
        `The OpenAPI document's PatientInput has no numeric ${where}; declare it on the API, then run make api-types.`,
      );
    }
    return value;
  };
  const limit = (field: string, key: string) => number(keyword(properties[field], key), `${field}.${key}`);
  const pattern = keyword(properties.mrn, "pattern");
  return {
    nameMaxChars: limit("name", "maxLength"),
    mrnMaxChars: limit("mrn", "maxLength"),
    referringDoctorMaxChars: limit("referring_doctor", "maxLength"),
    notesMaxChars: limit("notes", "maxLength"),
    minAgeYears: limit("age_years", "minimum"),
    maxAgeYears: limit("age_years", "maximum"),
    ageBirthDateToleranceYears: number(input["x-age-birth-date-tolerance-years"], "x-age-birth-date-tolerance-years"),
    mrnPattern: typeof pattern === "string" ? new RegExp(pattern, "u") : null,
  };
}

/** The limits of the API this app ships with: read from lib/generated/openapi.json, never typed here. */
export const PATIENT_LIMITS: PatientLimits = patientLimits(openapi);

/** The earliest birth date the server accepts on `today`: 1 January, `maxAgeYears` years back. */
export function minBirthDate(today: Date = new Date(), limits: PatientLimits = PATIENT_LIMITS): string {
  return `${today.getFullYear() - limits.maxAgeYears}-01-01`;
}

/** A character as a message names it: itself in quotes, or its code point when it cannot be seen. */
function showChar(c: string): string {
  if (c !== " " && /[\p{C}\p{Z}]/u.test(c)) {
    return `the invisible character U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return `“${c}”`;
}

/** The form's messages for a set of limits (the numbers in them come from the limits). */
export function patientMessages(limits: PatientLimits) {
  return {
    nameRequired: "Enter the patient's name.",
    nameTooLong: `The name is too long: use at most ${limits.nameMaxChars} characters.`,
    mrnRequired: "Enter the patient ID (MRN).",
    mrnTooLong: `The patient ID is too long: use at most ${limits.mrnMaxChars} characters.`,
    /** `bad`: the characters the MRN rule refuses (empty when the rule refuses the whole rather than a character). */
    mrnChars: (bad: string[]) =>
      bad.length > 0
        ? `Remove ${bad.map(showChar).join(", ")} from the patient ID: the server does not accept ${bad.length === 1 ? "it" : "them"}.`
        : "The patient ID is not in a form the server accepts: check it against the patient's record.",
    nulChar: "Remove the invisible NUL character (pasted from another program) from this field.",
    sexRequired: "Select the patient's sex (choose Unknown if it is not recorded).",
    birthOrAgeRequired: "Enter the birth date or the age in years.",
    birthDateInvalid: "Enter the birth date as a real date, for example 2019-04-23.",
    birthDateFuture: "The birth date cannot be in the future.",
    birthDateTooOld: (min: string) => `The birth date must be on or after ${min}.`,
    ageNotNumber: "Enter the age as a whole number of years, for example 7.",
    ageRange: `The age must be between ${limits.minAgeYears} and ${limits.maxAgeYears} years.`,
    ageMismatch: (computed: number) =>
      `The age does not match the birth date (which gives ${computed} ${computed === 1 ? "year" : "years"}). Correct one of them, or leave the age empty.`,
    doctorTooLong: `The referring doctor's name is too long: use at most ${limits.referringDoctorMaxChars} characters.`,
    notesTooLong: `The notes are too long: use at most ${limits.notesMaxChars} characters.`,
    imageRequired: "Choose a chest X-ray image (PNG, JPEG or DICOM).",
  } as const;
}

export const MESSAGES = patientMessages(PATIENT_LIMITS);

/**
 * The characters of `value` that `pattern` refuses, when the pattern is one character class
 * (`^[...]+$`, as the MRN rule is written); otherwise none can be named and the list is empty.
 */
function refusedChars(value: string, pattern: RegExp): string[] {
  const oneClass = /^\^(\[(?:\\.|[^\]\\])*\])[+*]\$$/.exec(pattern.source);
  if (!oneClass) return [];
  const allowed = new RegExp(`^${oneClass[1]}$`, "u");
  return [...new Set(value)].filter((c) => !allowed.test(c));
}

/** Length as Python counts it (code points), so that the limits agree with the server's. */
function chars(s: string): number {
  return [...s].length;
}

/** A trimmed text field: at most `max` characters and no NUL (the server refuses both). */
function text(max: number, tooLong: string, nulChar: string) {
  return z
    .string()
    .trim()
    .refine((s) => chars(s) <= max, tooLong)
    .refine((s) => !s.includes("\0"), nulChar);
}

/** Build the schema for a given "today" (so tests can pin the date) and the server's limits. */
export function patientFormSchema(today: Date = new Date(), limits: PatientLimits = PATIENT_LIMITS) {
  const todayIso = isoDay(today);
  const minBirth = minBirthDate(today, limits);
  const m = limits === PATIENT_LIMITS ? MESSAGES : patientMessages(limits);
  const { mrnPattern } = limits;
  return z
    .object({
      name: text(limits.nameMaxChars, m.nameTooLong, m.nulChar).refine((s) => s !== "", m.nameRequired),
      mrn: text(limits.mrnMaxChars, m.mrnTooLong, m.nulChar)
        .refine((s) => s !== "", m.mrnRequired)
        .superRefine((s, ctx) => {
          if (mrnPattern && s !== "" && !s.includes("\0") && !mrnPattern.test(s)) {
            ctx.addIssue({ code: "custom", message: m.mrnChars(refusedChars(s, mrnPattern)) });
          }
        }),
      sex: z.union([z.enum(SEXES), z.literal("")]).refine((v) => v !== "", m.sexRequired),
      birth_date: z.string().trim(),
      age_years: z.string().trim(),
      referring_doctor: text(limits.referringDoctorMaxChars, m.doctorTooLong, m.nulChar),
      notes: text(limits.notesMaxChars, m.notesTooLong, m.nulChar),
    })
    .superRefine((v, ctx) => {
      const hasBirth = v.birth_date !== "";
      const hasAge = v.age_years !== "";
      if (!hasBirth && !hasAge) {
        ctx.addIssue({ code: "custom", path: ["birth_date"], message: m.birthOrAgeRequired });
        return;
      }
      let birthOk = false;
      if (hasBirth) {
        if (!isRealDate(v.birth_date)) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: m.birthDateInvalid });
        } else if (v.birth_date > todayIso) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: m.birthDateFuture });
        } else if (v.birth_date < minBirth) {
          ctx.addIssue({ code: "custom", path: ["birth_date"], message: m.birthDateTooOld(minBirth) });
        } else {
          birthOk = true;
        }
      }
      if (hasAge) {
        const age = Number(v.age_years);
        if (!Number.isFinite(age) || !Number.isInteger(age)) {
          ctx.addIssue({ code: "custom", path: ["age_years"], message: m.ageNotNumber });
        } else {
          if (age < limits.minAgeYears || age > limits.maxAgeYears) {
            ctx.addIssue({ code: "custom", path: ["age_years"], message: m.ageRange });
          } else if (birthOk) {
            const computed = ageOn(v.birth_date, today);
            if (Math.abs(computed - age) > limits.ageBirthDateToleranceYears) {
              ctx.addIssue({ code: "custom", path: ["age_years"], message: m.ageMismatch(computed) });
            }
          }
        }
      }
    });
}

export type ValidationResult =
  { ok: true; body: PatientCreate; errors: FormErrors } | { ok: false; errors: FormErrors };

/** Validate the typed values; on success also return the POST /api/patients body. */
export function validatePatientForm(
  values: PatientFormValues,
  today: Date = new Date(),
  limits: PatientLimits = PATIENT_LIMITS,
): ValidationResult {
  const parsed = patientFormSchema(today, limits).safeParse(values);
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
