import { formatMetric } from "@/lib/format";

/** "training_data" -> "Training data", "auc" -> "AUC". */
export function humanize(key: string): string {
  const special: Record<string, string> = {
    auc: "AUC",
    roc_auc: "ROC AUC",
    f1: "F1",
    npv: "NPV",
    ppv: "PPV",
    n: "Images (n)",
    ci_low: "95% CI low",
    ci_high: "95% CI high",
    val: "Validation",
    mrn: "MRN",
    id: "ID",
  };
  if (special[key]) return special[key];
  const s = key.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function isMetric(v: unknown): v is { value: number; ci_low?: number | null; ci_high?: number | null } {
  return typeof v === "object" && v !== null && typeof (v as { value?: unknown }).value === "number";
}

/**
 * Shows a free-form JSON value readably: text, numbers, lists, metrics with CIs, nested tables.
 * Used for the parts of the contract whose inner shape is open (preprocessing, summaries).
 */
export function DataView({ value, depth = 0 }: { value: unknown; depth?: number }) {
  if (value == null || value === "") return <span>—</span>;
  if (typeof value === "string") return <span>{value}</span>;
  if (typeof value === "number") return <span>{Number.isInteger(value) ? value : value.toFixed(3)}</span>;
  if (typeof value === "boolean") return <span>{value ? "Yes" : "No"}</span>;
  if (isMetric(value)) return <span>{formatMetric(value)}</span>;
  if (Array.isArray(value)) {
    // Short atoms (numbers, codes) read best inline; sentences as a list.
    if (value.every((v) => typeof v === "number" || (typeof v === "string" && !/\s/.test(v) && v.length <= 24)))
      return <span>{value.join(", ")}</span>;
    return (
      <ul className="plain-list">
        {value.map((v, i) => (
          <li key={i}>
            <DataView value={v} depth={depth + 1} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === "object" && depth < 4) {
    return (
      <dl className="dl dl--compact">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <div key={k} className="dl__row">
            <dt>{humanize(k)}</dt>
            <dd>
              <DataView value={v} depth={depth + 1} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <code>{JSON.stringify(value)}</code>;
}
