import { describe, expect, it } from "vitest";
import {
  EMPTY_PATIENT_FORM,
  MESSAGES,
  PATIENT_LIMITS,
  minBirthDate,
  patientLimits,
  patientMessages,
  validatePatientForm,
  type PatientFormValues,
} from "@/lib/validation";
import openapi from "@/lib/generated/openapi.json";

const TODAY = new Date(2024, 5, 15); // 15 June 2024, local time

function form(over: Partial<PatientFormValues>): PatientFormValues {
  return { ...EMPTY_PATIENT_FORM, ...over };
}

const VALID = form({ name: "Amina Yusuf", mrn: "MRN-0042", sex: "female", birth_date: "2019-04-23" });

describe("validatePatientForm", () => {
  it("reports every required field of an empty form", () => {
    const r = validatePatientForm(EMPTY_PATIENT_FORM, TODAY);
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual({
      name: MESSAGES.nameRequired,
      mrn: MESSAGES.mrnRequired,
      sex: MESSAGES.sexRequired,
      birth_date: MESSAGES.birthOrAgeRequired,
    });
  });

  it("accepts a complete form and builds the API body", () => {
    const r = validatePatientForm({ ...VALID, referring_doctor: "  Dr. Okafor ", notes: "cough" }, TODAY);
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.body).toEqual({
        name: "Amina Yusuf",
        mrn: "MRN-0042",
        sex: "female",
        birth_date: "2019-04-23",
        referring_doctor: "Dr. Okafor",
        notes: "cough",
      });
  });

  it("sends age_years when there is no birth date", () => {
    const r = validatePatientForm({ ...VALID, birth_date: "", age_years: "4" }, TODAY);
    expect(r.ok && r.body).toMatchObject({ age_years: 4 });
    expect(r.ok && "birth_date" in r.body).toBe(false);
  });

  it.each([
    ["2024-06-16", MESSAGES.birthDateFuture],
    ["1893-12-31", MESSAGES.birthDateTooOld("1894-01-01")],
    ["2023-02-30", MESSAGES.birthDateInvalid],
    ["15/06/2020", MESSAGES.birthDateInvalid],
  ])("rejects the birth date %s", (birth_date, message) => {
    const r = validatePatientForm({ ...VALID, birth_date }, TODAY);
    expect(r.errors.birth_date).toBe(message);
  });

  it.each([
    ["131", MESSAGES.ageRange],
    ["-1", MESSAGES.ageRange],
    ["4.5", MESSAGES.ageNotNumber],
    ["four", MESSAGES.ageNotNumber],
  ])("rejects the age %s", (age_years, message) => {
    const r = validatePatientForm({ ...VALID, birth_date: "", age_years }, TODAY);
    expect(r.errors.age_years).toBe(message);
  });

  it("accepts age 0 (an infant) and the server's maximum, 130", () => {
    expect(PATIENT_LIMITS.maxAgeYears).toBe(130);
    expect(validatePatientForm({ ...VALID, birth_date: "", age_years: "0" }, TODAY).ok).toBe(true);
    expect(validatePatientForm({ ...VALID, birth_date: "", age_years: "130" }, TODAY).ok).toBe(true);
  });

  it("accepts birth dates back to 1 January of the year 130 years ago, as the server does", () => {
    expect(minBirthDate(TODAY)).toBe("1894-01-01");
    expect(validatePatientForm({ ...VALID, birth_date: "1894-01-01" }, TODAY).ok).toBe(true);
  });

  it("flags an age more than a year away from the birth date's, as the server does", () => {
    // The birth date gives 5 on TODAY; the server tolerates one year either way.
    const r = validatePatientForm({ ...VALID, age_years: "7" }, TODAY);
    expect(r.errors.age_years).toBe(MESSAGES.ageMismatch(5));
    expect(validatePatientForm({ ...VALID, age_years: "3" }, TODAY).errors.age_years).toBe(MESSAGES.ageMismatch(5));
    for (const age of ["4", "5", "6"]) expect(validatePatientForm({ ...VALID, age_years: age }, TODAY).ok).toBe(true);
  });

  it("refuses the MRN characters the server's pattern refuses, naming them, and limits lengths", () => {
    expect(validatePatientForm({ ...VALID, mrn: "MRN-0042/b_1.2" }, TODAY).ok).toBe(true);
    expect(validatePatientForm({ ...VALID, mrn: "Müller 12" }, TODAY).ok).toBe(true);
    expect(validatePatientForm({ ...VALID, mrn: "12<A>#ü" }, TODAY).errors.mrn).toBe(
      MESSAGES.mrnChars(["<", ">", "#"]),
    );
    expect(MESSAGES.mrnChars(["<", ">", "#"])).toBe(
      "Remove “<”, “>”, “#” from the patient ID: the server does not accept them.",
    );
    expect(validatePatientForm({ ...VALID, mrn: "12\u0009A" }, TODAY).errors.mrn).toBe(
      "Remove the invisible character U+0009 from the patient ID: the server does not accept it.",
    );
    expect(validatePatientForm({ ...VALID, mrn: "12\u0000" }, TODAY).errors.mrn).toBe(MESSAGES.nulChar);
    expect(validatePatientForm({ ...VALID, mrn: "M".repeat(65) }, TODAY).errors.mrn).toBe(MESSAGES.mrnTooLong);
    expect(validatePatientForm({ ...VALID, name: "x".repeat(201) }, TODAY).errors.name).toBe(MESSAGES.nameTooLong);
  });

  it("takes notes up to the server's 5000 characters, counted as the server counts them", () => {
    expect(validatePatientForm({ ...VALID, notes: "n".repeat(5000) }, TODAY).ok).toBe(true);
    expect(validatePatientForm({ ...VALID, notes: "n".repeat(5001) }, TODAY).errors.notes).toBe(MESSAGES.notesTooLong);
    // An emoji is one character to Python (and the server), two UTF-16 units to JavaScript.
    expect(validatePatientForm({ ...VALID, notes: "🫁".repeat(5000) }, TODAY).ok).toBe(true);
  });
});

/** A copy of the committed OpenAPI document whose PatientInput the test may change. */
function documentWith(change: (input: Record<string, any>) => void) {
  const document = structuredClone(openapi) as { components: { schemas: Record<string, any> } };
  change(document.components.schemas.PatientInput);
  return document;
}

describe("the limits come from the API's OpenAPI document", () => {
  it("PATIENT_LIMITS are the committed document's PatientInput limits", () => {
    const input = openapi.components.schemas.PatientInput;
    expect(PATIENT_LIMITS).toMatchObject({
      nameMaxChars: input.properties.name.maxLength,
      mrnMaxChars: input.properties.mrn.maxLength,
      referringDoctorMaxChars: input.properties.referring_doctor.maxLength,
      notesMaxChars: input.properties.notes.maxLength,
      minAgeYears: input.properties.age_years.minimum,
      maxAgeYears: input.properties.age_years.maximum,
      ageBirthDateToleranceYears: input["x-age-birth-date-tolerance-years"],
    });
    expect(PATIENT_LIMITS.mrnPattern?.source).toBe(new RegExp(input.properties.mrn.pattern, "u").source);
  });

  it("a document with other limits changes the checks and the messages", () => {
    const limits = patientLimits(
      documentWith((input) => {
        input.properties.notes.maxLength = 10;
        input.properties.age_years.minimum = 1;
        input.properties.age_years.maximum = 99;
        input.properties.mrn.pattern = "^[0-9]+$";
        input["x-age-birth-date-tolerance-years"] = 0;
      }),
    );
    const m = patientMessages(limits);
    const check = (over: Partial<PatientFormValues>) => validatePatientForm({ ...VALID, ...over }, TODAY, limits);
    expect(m.notesTooLong).toBe("The notes are too long: use at most 10 characters.");
    expect(check({ notes: "n".repeat(10), mrn: "42" }).ok).toBe(true);
    expect(check({ notes: "n".repeat(11), mrn: "42" }).errors.notes).toBe(m.notesTooLong);
    expect(m.ageRange).toBe("The age must be between 1 and 99 years.");
    expect(check({ birth_date: "", age_years: "0", mrn: "42" }).errors.age_years).toBe(m.ageRange);
    expect(check({ birth_date: "", age_years: "100", mrn: "42" }).errors.age_years).toBe(m.ageRange);
    expect(minBirthDate(TODAY, limits)).toBe("1925-01-01");
    expect(check({ birth_date: "1924-12-31", mrn: "42" }).errors.birth_date).toBe(m.birthDateTooOld("1925-01-01"));
    // Tolerance 0: an age one year off the birth date's (5) is now a contradiction.
    expect(check({ age_years: "6", mrn: "42" }).errors.age_years).toBe(m.ageMismatch(5));
    expect(check({ mrn: "MRN-42" }).errors.mrn).toBe(
      "Remove “M”, “R”, “N”, “-” from the patient ID: the server does not accept them.",
    );
    // The same values pass under the shipped limits.
    expect(validatePatientForm({ ...VALID, age_years: "6", mrn: "MRN-42" }, TODAY).ok).toBe(true);
  });

  it("a document without an MRN pattern takes any characters but NUL", () => {
    const limits = patientLimits(documentWith((input) => delete input.properties.mrn.pattern));
    expect(limits.mrnPattern).toBeNull();
    expect(validatePatientForm({ ...VALID, mrn: "12<A>#ü" }, TODAY, limits).ok).toBe(true);
  });

  it("a pattern that refuses the whole rather than a character gets the general message", () => {
    const limits = patientLimits(documentWith((input) => (input.properties.mrn.pattern = "^[A-Z]+-[0-9]+$")));
    const r = validatePatientForm({ ...VALID, mrn: "MRN42" }, TODAY, limits);
    expect(r.errors.mrn).toBe(patientMessages(limits).mrnChars([]));
  });

  it("reads limits written on a nullable field's anyOf branch", () => {
    const limits = patientLimits(
      documentWith((input) => {
        input.properties.notes = { anyOf: [{ type: "string", maxLength: 300 }, { type: "null" }] };
      }),
    );
    expect(limits.notesMaxChars).toBe(300);
  });

  it("refuses a document that leaves a limit out, naming it", () => {
    expect(() => patientLimits(documentWith((input) => delete input.properties.notes.maxLength))).toThrow(
      "PatientInput has no numeric notes.maxLength",
    );
    expect(() => patientLimits(documentWith((input) => delete input["x-age-birth-date-tolerance-years"]))).toThrow(
      "x-age-birth-date-tolerance-years",
    );
    expect(() => patientLimits({ components: { schemas: {} } })).toThrow("no PatientInput schema");
  });
});
