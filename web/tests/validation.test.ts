import { describe, expect, it } from "vitest";
import {
  EMPTY_PATIENT_FORM,
  MESSAGES,
  PATIENT_LIMITS,
  minBirthDate,
  validatePatientForm,
  type PatientFormValues,
} from "@/lib/validation";

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

  it("takes any characters in the MRN but NUL, like the server, and limits lengths", () => {
    expect(validatePatientForm({ ...VALID, mrn: "12<A>#ü" }, TODAY).ok).toBe(true);
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
