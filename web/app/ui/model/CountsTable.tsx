import { humanize } from "../common/DataView";

const SPLIT_ORDER = ["train", "val", "test"];

/** True for `{split: {class: n}}` count tables as the model card and report give them. */
export function isCounts(v: unknown): v is Record<string, Record<string, number>> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const rows = Object.values(v as Record<string, unknown>);
  return (
    rows.length > 0 &&
    rows.every(
      (r) =>
        typeof r === "object" &&
        r !== null &&
        !Array.isArray(r) &&
        Object.values(r).every((n) => typeof n === "number"),
    )
  );
}

/** Images per split (rows) and class (columns), with totals. */
export function CountsTable({ counts, caption }: { counts: Record<string, Record<string, number>>; caption?: string }) {
  const rank = (k: string) => (SPLIT_ORDER.includes(k) ? SPLIT_ORDER.indexOf(k) : SPLIT_ORDER.length);
  const splits = Object.keys(counts).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const classes = Array.from(new Set(splits.flatMap((s) => Object.keys(counts[s] ?? {}))));
  return (
    <div className="table-wrap">
      <table className="table" data-testid="counts-table">
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            <th scope="col">Split</th>
            {classes.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {splits.map((s) => {
            const row = counts[s] ?? {};
            const total = Object.values(row).reduce((a, b) => a + b, 0);
            return (
              <tr key={s}>
                <th scope="row">{humanize(s)}</th>
                {classes.map((c) => (
                  <td key={c} data-label={c}>
                    {row[c] ?? 0}
                  </td>
                ))}
                <td data-label="Total">{total}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
