import type { SubtypeHead } from "@/lib/definitions";
import { MetricTable, isMetric, type MetricRow } from "./MetricTable";

const ROWS: { key: string; label: string; help: string }[] = [
  { key: "auc", label: "ROC AUC", help: "How well P(viral) separates viral from bacterial pneumonia (1 is perfect)." },
  { key: "accuracy", label: "Accuracy", help: "Share of test pneumonia images whose pattern was right." },
  { key: "sensitivity", label: "Sensitivity (viral)", help: "Share of viral pneumonias called viral." },
  { key: "specificity", label: "Specificity (bacterial)", help: "Share of bacterial pneumonias called bacterial." },
];

/** The bacterial-vs-viral head's test metrics with CIs; nothing when the model has none. */
export function SubtypeSection({ head }: { head: SubtypeHead | null | undefined }) {
  if (!head) return null;
  const test = head.metrics?.test ?? null;
  const rows: MetricRow[] = test
    ? ROWS.flatMap(({ key, label, help }) => {
        const metric = test[key as keyof typeof test];
        return isMetric(metric) ? [{ key, label, help, metric }] : [];
      })
    : [];
  const counts = head.fitted_on?.test;
  return (
    <section className="section" aria-labelledby="mc-subtype">
      <h2 id="mc-subtype">Kind of pneumonia: bacterial or viral</h2>
      <p>
        When the answer is pneumonia, a second head says whether the pattern looks more like bacterial or viral
        pneumonia. It learned from the training images&apos; file names (Kermany et al.) and{" "}
        {head.wording ?? "supports clinical judgement"}.
      </p>
      {rows.length ? (
        <MetricTable
          rows={rows}
          testId="subtype-metrics-table"
          caption={
            counts
              ? `Test pneumonia images: ${counts.bacterial ?? "?"} bacterial, ${counts.viral ?? "?"} viral`
              : "Test pneumonia images"
          }
        />
      ) : (
        <p>No test metrics were recorded for this head.</p>
      )}
    </section>
  );
}
