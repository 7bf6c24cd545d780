import { apiUrl } from "@/lib/api";
import type { ValidationReport } from "@/lib/definitions";
import { formatPercent } from "@/lib/format";
import { humanize } from "../common/DataView";
import { MetricTable, type MetricRow } from "./MetricTable";
import { figureTitle } from "./figures";

const REPORT_METRICS: { key: "auc" | "sensitivity" | "specificity" | "ppv" | "npv"; label: string }[] = [
  { key: "auc", label: "ROC AUC" },
  { key: "sensitivity", label: "Sensitivity" },
  { key: "specificity", label: "Specificity" },
  { key: "ppv", label: "PPV (positive predictive value)" },
  { key: "npv", label: "NPV (negative predictive value)" },
];

function share(part: number, whole: number): string {
  return whole > 0 ? ` (${formatPercent(part / whole)})` : "";
}

function Report({ report, index }: { report: ValidationReport; index: number }) {
  const refused = Object.entries(report.refused ?? {}).filter(([, n]) => n > 0);
  const refusedTotal = refused.reduce((sum, [, n]) => sum + n, 0);
  const brier = typeof report.brier === "number" ? { value: report.brier } : report.brier;
  const rows: MetricRow[] = REPORT_METRICS.flatMap(({ key, label }) => {
    const metric = report[key];
    return metric ? [{ key, label, metric }] : [];
  });
  const figures = Object.entries(report.figures ?? {});
  const titleId = `mc-report-${index}`;
  return (
    <section className="card" aria-labelledby={titleId} data-testid="validation-report">
      <h3 id={titleId}>{report.source}</h3>
      <dl className="dl">
        <dt>Images</dt>
        <dd>{report.n}</dd>
        <dt>Answered</dt>
        <dd>
          {report.answered}
          {share(report.answered, report.n)}
        </dd>
        <dt>Refused</dt>
        <dd>
          {refusedTotal}
          {share(refusedTotal, report.n)}
        </dd>
        {report.pneumonia_called_share != null && (
          <>
            <dt>Called pneumonia</dt>
            <dd>{formatPercent(report.pneumonia_called_share)} of the answered images</dd>
          </>
        )}
        {brier != null && brier.value != null && (
          <>
            <dt>Brier score</dt>
            <dd>
              {brier.value.toFixed(3)}
              {brier.ci_low != null && brier.ci_high != null
                ? ` (95% CI ${brier.ci_low.toFixed(3)}–${brier.ci_high.toFixed(3)})`
                : ""}{" "}
              (0 is perfect calibration)
            </dd>
          </>
        )}
      </dl>
      {refused.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="report-refused">
            <caption>Refused, by reason</caption>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col">Images</th>
              </tr>
            </thead>
            <tbody>
              {refused.map(([reason, n]) => (
                <tr key={reason}>
                  <th scope="row">{humanize(reason)}</th>
                  <td>
                    {n}
                    {share(n, report.n)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > 0 ? (
        <MetricTable rows={rows} testId="report-metrics" caption="On the answered images, at the model's threshold" />
      ) : (
        <p className="hint">No accuracy figures: this source does not have both classes among its answered images.</p>
      )}
      {figures.length > 0 && (
        <div className="figures">
          {figures.map(([name, url]) => (
            <figure key={name}>
              {/* eslint-disable-next-line @next/next/no-img-element */}
              <img src={apiUrl(url)} alt={`${figureTitle(name)} (${report.source})`} loading="lazy" />
              <figcaption>{figureTitle(name)}</figcaption>
            </figure>
          ))}
        </div>
      )}
    </section>
  );
}

/** Every external-validation report attached to the run (`pneumoscan validate`), one card per source. */
export function ValidationReports({ reports }: { reports: ValidationReport[] | null | undefined }) {
  return (
    <section className="section" aria-labelledby="mc-validation">
      <h2 id="mc-validation">Validation on other sources</h2>
      {reports?.length ? (
        <>
          <p>
            Each source of labelled images the model was checked on after training, with 95% confidence intervals.
            Refused images are not counted in the metrics.
          </p>
          {reports.map((r, i) => (
            <Report key={`${r.source}-${i}`} report={r} index={i} />
          ))}
        </>
      ) : (
        <p data-testid="validation-reports-missing">
          No validation reports are attached to this model run. Before relying on it at a new site, validate it on the
          site&apos;s own labelled images (<code>pneumoscan validate</code>).
        </p>
      )}
    </section>
  );
}
