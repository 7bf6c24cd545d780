import { describe, expect, it } from "vitest";
import { ageFromForm, isOutsideAgeRange, patientAgeYears, populationPhrase } from "@/lib/population";

const TODAY = new Date(2024, 5, 15);
const RANGE = { age_min_years: 1, age_max_years: 5 };

describe("population", () => {
  it("treats both ends as inside and max + 1 as outside", () => {
    expect([0, 1, 5, 6, 40].map((a) => isOutsideAgeRange(a, RANGE))).toEqual([true, false, false, true, true]);
  });

  it("says children for a pediatric range and patients otherwise", () => {
    expect(populationPhrase(1, 5)).toBe("children aged 1–5 years");
    expect(populationPhrase(18, 90)).toBe("patients aged 18–90 years");
  });

  it("takes the age from a real birth date first, else from a whole-number age", () => {
    expect(ageFromForm("2019-04-23", "", TODAY)).toBe(5);
    expect(ageFromForm("2019-04-23", "40", TODAY)).toBe(5);
    expect(ageFromForm("", " 40 ", TODAY)).toBe(40);
    expect(ageFromForm("2030-01-01", "7", TODAY)).toBe(7); // a future birth date says nothing
    expect(ageFromForm("", "4.5", TODAY)).toBeNull();
    expect(ageFromForm("", "-3", TODAY)).toBeNull();
    expect(ageFromForm("", "", TODAY)).toBeNull();
  });

  it("reads a stored patient's age", () => {
    expect(patientAgeYears({ birth_date: "2019-04-23", age_years: 9 }, TODAY)).toBe(5);
    expect(patientAgeYears({ birth_date: null, age_years: 30 }, TODAY)).toBe(30);
    expect(patientAgeYears({}, TODAY)).toBeNull();
  });
});
