import { describe, expect, it } from "vitest";
import { EMPTY_PATIENT_FORM, MESSAGES, validatePatientForm, type PatientFormValues } from "@/lib/validation";

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
    ["1850-01-01", MESSAGES.birthDateTooOld],
    ["2023-02-30", MESSAGES.birthDateInvalid],
    ["15/06/2020", MESSAGES.birthDateInvalid],
  ])("rejects the birth date %s", (birth_date, message) => {
    const r = validatePatientForm({ ...VALID, birth_date }, TODAY);
    expect(r.errors.birth_date).toBe(message);
  });

  it.each([
    ["121", MESSAGES.ageRange],
    ["-1", MESSAGES.ageRange],
    ["4.5", MESSAGES.ageNotNumber],
    ["four", MESSAGES.ageNotNumber],
  ])("rejects the age %s", (age_years, message) => {
    const r = validatePatientForm({ ...VALID, birth_date: "", age_years }, TODAY);
    expect(r.errors.age_years).toBe(message);
  });

  it("accepts age 0 (an infant) and 120", () => {
    expect(validatePatientForm({ ...VALID, birth_date: "", age_years: "0" }, TODAY).ok).toBe(true);
    expect(validatePatientForm({ ...VALID, birth_date: "", age_years: "120" }, TODAY).ok).toBe(true);
  });

  it("flags an age that contradicts the birth date", () => {
    const r = validatePatientForm({ ...VALID, age_years: "9" }, TODAY);
    expect(r.errors.age_years).toBe(MESSAGES.ageMismatch(5));
    expect(validatePatientForm({ ...VALID, age_years: "5" }, TODAY).ok).toBe(true);
  });

  it("rejects odd characters in the MRN and overlong names", () => {
    expect(validatePatientForm({ ...VALID, mrn: "12<script>" }, TODAY).errors.mrn).toBe(MESSAGES.mrnChars);
    expect(validatePatientForm({ ...VALID, name: "x".repeat(201) }, TODAY).errors.name).toBe(MESSAGES.nameTooLong);
  });
});
