"use client";
import { useEffect, useRef } from "react";
import type { ApiError } from "@/lib/api";
import type { IntendedPopulation } from "@/lib/definitions";
import { refusalReasonText } from "@/lib/format";
import { OUTSIDE_POPULATION_ADVICE, ageOutsideSentence, validatedOnSentence } from "@/lib/population";

export const OUTSIDE_POPULATION = "outside_intended_population";

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Why a refusal for population reasons happened, in plain words: the patient's age against the
 * validated range (age rule), or the image unlike the validated population (population check).
 */
function populationExplanation(error: ApiError, population?: IntendedPopulation | null): string {
  const d = error.detail ?? {};
  const [age, min, max] = [num(d.age_years), num(d.age_min_years), num(d.age_max_years)];
  if (age != null && min != null && max != null) return ageOutsideSentence(age, min, max);
  const validatedOn = population ? ` ${validatedOnSentence(population)}` : "";
  return `This X-ray looks unlike the X-rays the model was validated on (for example an adult's film, or one from a different kind of machine), so its answer would not be reliable.${validatedOn}`;
}

/**
 * The server's refusal of an image (422 not_chest_xray): why, in plain words, the server's own
 * message verbatim, what the clinician can do, and a way to try another image. Focused when it appears.
 */
export function RefusalNotice({
  error,
  onTryAnother,
  population,
}: {
  error: ApiError;
  onTryAnother?: () => void;
  /** The model card's intended population, to name it when the image itself was found outside it. */
  population?: IntendedPopulation | null;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [error]);
  const outside = error.reason === OUTSIDE_POPULATION;
  const ageRule = outside && num(error.detail?.age_years) != null;
  return (
    <div
      ref={ref}
      className="notice notice--warning"
      role="alert"
      data-testid="refusal"
      tabIndex={-1}
      aria-labelledby="refusal-title"
    >
      <h2 className="notice__title" id="refusal-title">
        This image was not analysed
      </h2>
      <p data-testid="refusal-reason">
        {outside ? populationExplanation(error, population) : refusalReasonText(error.reason)}
      </p>
      <p className="notice__message" data-testid="refusal-message">
        {error.message}
      </p>
      {outside ? (
        <p data-testid="refusal-advice">
          <strong>What you can do:</strong> {OUTSIDE_POPULATION_ADVICE} The patient&apos;s details you typed are kept.
        </p>
      ) : (
        <p>
          PneumoScan only reads frontal chest X-rays (PA or AP) saved as PNG, JPEG or DICOM. The patient&apos;s details
          you typed are kept.
        </p>
      )}
      {onTryAnother && !ageRule && (
        <p className="notice__actions">
          <button type="button" className="button" onClick={onTryAnother}>
            Try another image
          </button>
        </p>
      )}
    </div>
  );
}
