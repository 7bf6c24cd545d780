"use client";
import { errorMessage, isApiError } from "@/lib/api";

/**
 * Why "Analyse X-ray" failed (the server's message verbatim) and what to do: sign in again, add
 * the X-ray to the patient who already has the MRN, or correct and press again. What was typed is kept.
 */
export function SubmitError({
  error,
  onAddToExisting,
}: {
  error: unknown;
  onAddToExisting: (patientId: number) => void;
}) {
  const duplicateOf = isApiError(error) && error.code === "duplicate_mrn" ? error.patientId : null;
  return (
    <div className="notice notice--error" role="alert" data-testid="api-error">
      <h2 className="notice__title">The examination could not be saved</h2>
      <p className="notice__message" data-testid="api-error-message">
        {errorMessage(error)}
      </p>
      {isApiError(error) && error.status === 401 ? (
        <p>
          Your session has ended.{" "}
          <a href="/login/" target="_blank" rel="noopener noreferrer">
            Sign in again in a new tab
          </a>
          , then come back and press &quot;Analyse X-ray&quot;: what you typed here is kept.
        </p>
      ) : duplicateOf != null ? (
        <>
          <p>
            If this is the same patient, add the X-ray to their record (their saved details are kept). Otherwise correct
            the patient ID (MRN).
          </p>
          <p className="notice__actions">
            <button type="button" className="button" onClick={() => onAddToExisting(duplicateOf)}>
              Add the X-ray to the existing patient
            </button>
            <a href={`/patient/?id=${duplicateOf}`} target="_blank" rel="noopener noreferrer">
              See that patient&apos;s record (new tab)
            </a>
          </p>
        </>
      ) : (
        <p>Your details are kept. Correct the problem if there is one, then press &quot;Analyse X-ray&quot; again.</p>
      )}
    </div>
  );
}
