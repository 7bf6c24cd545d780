"use client";
import Link from "next/link";
import type { ReactNode } from "react";
import { SEXES, type IntendedPopulation, type Patient } from "@/lib/definitions";
import { ageOn, isoDay, isRealDate, patientAge, sexLabel } from "@/lib/format";
import { OUTSIDE_POPULATION_ADVICE, ageOutsideSentence, isOutsideAgeRange } from "@/lib/population";
import {
  PATIENT_LIMITS,
  minBirthDate,
  type FormErrors,
  type FormField,
  type PatientField,
  type PatientFormValues,
} from "@/lib/validation";

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

export const FIELD_LABELS: Record<PatientField, string> = {
  name: "Patient name",
  mrn: "Patient ID (MRN)",
  sex: "Sex",
  birth_date: "Birth date",
  age_years: "Age (years)",
  referring_doctor: "Referring doctor",
  notes: "Symptoms and notes",
};

function FieldShell({
  field,
  hint,
  error,
  prefilled,
  children,
}: {
  field: PatientField;
  hint?: ReactNode;
  error?: string;
  prefilled?: boolean;
  children: ReactNode;
}) {
  const id = FIELD_IDS[field];
  return (
    <div className={`field${error ? " field--invalid" : ""}`}>
      <label htmlFor={id} className="field__label">
        {FIELD_LABELS[field]}
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

/** The attributes every field's control shares: id, name, value, change handler and its a11y wiring. */
function controlProps(
  field: PatientField,
  props: { values: PatientFormValues; errors: FormErrors; prefilled: Set<PatientField> },
  onChange: (field: PatientField, value: string) => void,
  hasHint: boolean,
) {
  const id = FIELD_IDS[field];
  const error = props.errors[field];
  const pre = props.prefilled.has(field);
  const described = [hasHint && `${id}-hint`, pre && `${id}-prefilled`, error && `${id}-error`].filter(Boolean);
  return {
    id,
    name: field,
    value: props.values[field],
    onChange: (e: { target: { value: string } }) => onChange(field, e.target.value),
    "aria-invalid": error ? true : undefined,
    "aria-describedby": described.length ? described.join(" ") : undefined,
  } as const;
}

/**
 * Said as soon as the patient's age is known to lie outside the model's intended population
 * (before any upload): who the model was validated on, and what to do instead. An always-present
 * live region, so that the warning is announced when it appears.
 */
export function PopulationWarning({ age, population }: { age: number | null; population?: IntendedPopulation | null }) {
  const outside = age != null && population != null && isOutsideAgeRange(age, population);
  return (
    <div role="status" aria-live="polite" className="population-warning">
      {outside && (
        <div className="notice notice--warning" data-testid="population-warning">
          <p className="notice__title">PneumoScan is not meant for this patient</p>
          <p>
            {ageOutsideSentence(age, population.age_min_years, population.age_max_years)} PneumoScan will refuse to
            analyse the X-ray.
          </p>
          {population.description && <p className="hint">{population.description}</p>}
          <p>{OUTSIDE_POPULATION_ADVICE}</p>
        </div>
      )}
    </div>
  );
}

/** Step 1 for a new patient: name, MRN, sex, birth date or age, referring doctor, notes. */
export function PatientFields({
  values,
  errors,
  prefilled,
  disabled,
  today,
  onChange,
  children,
}: {
  values: PatientFormValues;
  errors: FormErrors;
  /** The fields the DICOM header filled in (and the user has not changed since). */
  prefilled: Set<PatientField>;
  disabled: boolean;
  today: Date;
  onChange: (field: PatientField, value: string) => void;
  /** Shown after the birth date and age (the population warning). */
  children?: ReactNode;
}) {
  const todayIso = isoDay(today);
  const birthAge =
    values.birth_date && isRealDate(values.birth_date) && values.birth_date <= todayIso
      ? ageOn(values.birth_date, today)
      : null;
  const shared = { values, errors, prefilled };
  const control = (field: PatientField, hasHint: boolean) => controlProps(field, shared, onChange, hasHint);
  const shell = (field: PatientField) => ({ field, error: errors[field], prefilled: prefilled.has(field) });

  return (
    <fieldset className="fieldset" disabled={disabled}>
      <legend>1. Patient details</legend>
      <div className="grid-2">
        <FieldShell {...shell("name")}>
          <input type="text" autoComplete="off" aria-required="true" {...control("name", false)} />
        </FieldShell>
        <FieldShell {...shell("mrn")} hint="The medical record number.">
          <input type="text" autoComplete="off" spellCheck={false} aria-required="true" {...control("mrn", true)} />
        </FieldShell>
        <FieldShell {...shell("sex")}>
          <select aria-required="true" {...control("sex", false)}>
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
            {...shell("birth_date")}
            hint={birthAge != null ? `Age today: ${birthAge} ${birthAge === 1 ? "year" : "years"}.` : undefined}
          >
            <input type="date" min={minBirthDate(today)} max={todayIso} {...control("birth_date", birthAge != null)} />
          </FieldShell>
          <FieldShell {...shell("age_years")}>
            <input
              type="number"
              inputMode="numeric"
              min={PATIENT_LIMITS.minAgeYears}
              max={PATIENT_LIMITS.maxAgeYears}
              step={1}
              {...control("age_years", false)}
            />
          </FieldShell>
        </div>
        {children}
      </fieldset>

      <div className="grid-2">
        <FieldShell {...shell("referring_doctor")} hint="Optional.">
          <input type="text" autoComplete="off" {...control("referring_doctor", true)} />
        </FieldShell>
      </div>
      <FieldShell
        {...shell("notes")}

        hint="Optional. For example: fever for 3 days, cough, fast breathing."
      >
        <textarea rows={3} {...control("notes", true)} />
      </FieldShell>
    </fieldset>
  );
}

/** Step 1 for a patient who is already on record: their details, read only. */
export function ExistingPatient({ patient, children }: { patient: Patient; children?: ReactNode }) {
  return (
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
      {children}
      <p className="actions">
        <Link href={`/patient/?id=${patient.id}`}>Patient record</Link>
        <Link href="/exam/">New patient instead</Link>
      </p>
    </section>
  );
}
