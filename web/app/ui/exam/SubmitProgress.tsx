"use client";

export type SubmitPhase = "idle" | "checking" | "saving" | "uploading" | "analysing" | "done" | "failed";

const STEPS: { phase: SubmitPhase; label: string }[] = [
  { phase: "saving", label: "Saving the patient's details" },
  { phase: "uploading", label: "Uploading the X-ray" },
  { phase: "analysing", label: "Analysing the X-ray" },
  { phase: "done", label: "Opening the result" },
];

const ORDER: SubmitPhase[] = ["saving", "uploading", "analysing", "done"];

/** Visible, announced progress of "Analyse X-ray": a step list and the upload's progress bar. */
export function SubmitProgress({ phase, uploadFraction }: { phase: SubmitPhase; uploadFraction: number }) {
  const active = ORDER.indexOf(phase);
  const current =
    phase === "checking" ? "Reading the image before analysis…" : active >= 0 ? `${STEPS[active].label}…` : "";
  return (
    <div className="submit-progress" data-testid="submit-progress">
      <p className="visually-hidden" role="status" aria-live="polite">
        {current}
      </p>
      {(active >= 0 || phase === "checking") && (
        <div className="progress-card" aria-hidden="true">
          {phase === "checking" && <p>{current}</p>}
          {active >= 0 && (
            <ol className="progress-steps">
              {STEPS.map((s, i) => {
                const state = i < active ? "done" : i === active ? "current" : "todo";
                return (
                  <li key={s.phase} className={`progress-steps__item progress-steps__item--${state}`}>
                    <span className="progress-steps__icon">
                      {state === "done" ? "✓" : state === "current" ? "●" : "○"}
                    </span>
                    {s.label}
                    {s.phase === "uploading" && state === "current" && (
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
