"use client";
import type { ExamSubmitState, SubmitStep } from "./useExamSubmit";

const STEPS: { step: SubmitStep | "open"; label: string }[] = [
  { step: "saving", label: "Saving the patient's details" },
  { step: "uploading", label: "Uploading the X-ray" },
  { step: "analysing", label: "Analysing the X-ray" },
  { step: "open", label: "Opening the result" },
];

/** Visible, announced progress of "Analyse X-ray": a step list and the upload's progress bar. */
export function SubmitProgress({ state }: { state: Pick<ExamSubmitState, "phase" | "step" | "uploadFraction"> }) {
  const { phase, uploadFraction } = state;
  const active =
    phase === "done" ? STEPS.length - 1 : phase === "submitting" ? STEPS.findIndex((s) => s.step === state.step) : -1;
  const reading = phase === "reading_image";
  const current = reading ? "Reading the image before analysis…" : active >= 0 ? `${STEPS[active].label}…` : "";
  return (
    <div className="submit-progress" data-testid="submit-progress">
      <p className="visually-hidden" role="status" aria-live="polite">
        {current}
      </p>
      {(active >= 0 || reading) && (
        <div className="progress-card" aria-hidden="true">
          {reading && <p>{current}</p>}
          {active >= 0 && (
            <ol className="progress-steps">
              {STEPS.map((s, i) => {
                const status = i < active ? "done" : i === active ? "current" : "todo";
                return (
                  <li key={s.step} className={`progress-steps__item progress-steps__item--${status}`}>
                    <span className="progress-steps__icon">
                      {status === "done" ? "✓" : status === "current" ? "●" : "○"}
                    </span>
                    {s.label}
                    {s.step === "uploading" && status === "current" && (
                      <progress className="upload-bar" max={1} value={uploadFraction}>
                        {Math.round(uploadFraction * 100)}%
                      </progress>
                    )}
                  </li>
                );
              })}
            </ol>
          )}
        </div>
      )}
    </div>
  );
}
