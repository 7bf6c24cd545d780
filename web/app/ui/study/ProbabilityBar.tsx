import { formatVersus } from "@/lib/format";

/**
 * The probability of pneumonia as a bar from 0 to 100%, with a marker at the decision threshold.
 * Exposed to assistive technology as a meter with a spoken value that names the threshold.
 */
export function ProbabilityBar({ probability, threshold }: { probability: number; threshold: number }) {
  const p = Math.min(1, Math.max(0, probability));
  const t = Math.min(1, Math.max(0, threshold));
  const above = probability >= threshold;
  const [pText, tText] = formatVersus(probability, threshold);
  return (
    <div className="prob">
      <div
        className="prob__track"
        role="meter"
        aria-label="Probability of pneumonia"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Number((p * 100).toFixed(1))}
        aria-valuetext={`${pText}, ${above ? "at or above" : "below"} the decision threshold of ${tText}`}
        data-testid="probability-bar"
      >
        <div
          className={`prob__fill ${above ? "prob__fill--above" : "prob__fill--below"}`}
          style={{ width: `${p * 100}%` }}
        />
        <div className="prob__threshold" style={{ left: `${t * 100}%` }} data-testid="threshold-marker">
          <span
            className={`prob__threshold-label prob__threshold-label--${t > 0.8 ? "end" : t < 0.2 ? "start" : "mid"}`}
          >
            Threshold {tText}
          </span>
        </div>
      </div>
      <div className="prob__scale" aria-hidden="true">
        <span>0%</span>
        <span>50%</span>
        <span>100%</span>
      </div>
    </div>
  );
}
