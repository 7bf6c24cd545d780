/**
 * The model's intended population (GET /api/model `intended_population`) in plain words: whether a
 * patient's age falls outside it, and what the clinician can do then. Pure functions, unit-tested.
 */
import type { IntendedPopulation } from "./definitions";
import { ageOn, isoDay, isRealDate } from "./format";

/** What a clinician can do when the model was not validated for the patient or the image. */
export const OUTSIDE_POPULATION_ADVICE =
  "Read the film without PneumoScan, or use a model that was validated for this population.";

/** True when a whole-year age lies outside [age_min_years, age_max_years] (ages >= max+1 are outside). */
export function isOutsideAgeRange(
  age: number,
  population: Pick<IntendedPopulation, "age_min_years" | "age_max_years">,
) {
  return age < population.age_min_years || age >= population.age_max_years + 1;
}

function years(n: number): string {
  return n === 1 ? "1 year" : `${n} years`;
}

/** "children aged 1–5 years" (all under 18) or "patients aged 18–90 years". */
export function populationPhrase(min: number, max: number): string {
  return `${max < 18 ? "children" : "patients"} aged ${min}–${years(max)}`;
}

/** "The model was validated on children aged 1–5 years (frontal PA or AP views)." */
export function validatedOnSentence(population: IntendedPopulation): string {
  const views = population.views?.length ? ` (${population.views.join(" or ")} views)` : "";
  return `The model was validated on ${populationPhrase(population.age_min_years, population.age_max_years)}${views}.`;
}

/**
 * The patient's age in whole years as the form gives it: from a real birth date that is not in
 * the future, else from the age field when it is a whole number; null when neither says.
 */
export function ageFromForm(birthDate: string, ageYears: string, today: Date = new Date()): number | null {
  const birth = birthDate.trim();
  if (birth && isRealDate(birth) && birth <= isoDay(today)) return ageOn(birth, today);
  const raw = ageYears.trim();
  if (raw === "") return null;
  const age = Number(raw);
  return Number.isInteger(age) && age >= 0 ? age : null;
}

/** A stored patient's age in whole years, or null when it is not recorded. */
export function patientAgeYears(
  patient: { birth_date?: string | null; age_years?: number | null },
  today: Date = new Date(),
): number | null {
  if (patient.birth_date && isRealDate(patient.birth_date)) return ageOn(patient.birth_date, today);
  return patient.age_years ?? null;
}

/** The plain sentence for an age outside the population: who it was validated on, and this patient's age. */
export function ageOutsideSentence(age: number, min: number, max: number): string {
  return `The model was validated on ${populationPhrase(min, max)}; this patient is ${years(age)} old, so its answer would not be reliable.`;
}
