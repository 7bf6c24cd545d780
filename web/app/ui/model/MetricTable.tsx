import type { Metric } from "@/lib/definitions";

export interface MetricRow {
  key: string;
  label: string;
  metric: Metric;
  help?: string;
}

function fmt(v: number | null | undefined): string {
  return v == null ? "—" : v.toFixed(3);
}

/** True for `{value, ci_low?, ci_high?}` with a number as value. */
export function isMetric(v: unknown): v is Metric & { value: number } {
  return typeof v === "object" && v !== null && typeof (v as Metric).value === "number";
}

/** Metrics with their 95% confidence intervals (and, when given, what each one means). */
export function MetricTable({ rows, testId, caption }: { rows: MetricRow[]; testId?: string; caption?: string }) {
  const withHelp = rows.some((r) => r.help !== undefined);
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col">Value</th>
            <th scope="col">95% CI</th>
            {withHelp && <th scope="col">Meaning</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map(({ key, label, metric, help }) => (
            <tr key={key}>
              <th scope="row">{label}</th>
              <td data-label="Value">{fmt(metric.value)}</td>
              <td data-label="95% CI">
                {metric.ci_low != null && metric.ci_high != null
                  ? `${fmt(metric.ci_low)} – ${fmt(metric.ci_high)}`
                  : "—"}
              </td>
              {withHelp && (
                <td data-label="Meaning" className="hint">
                  {help}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
