import { apiUrl } from "@/lib/api";
import type { ModelCard } from "@/lib/definitions";
import { formatPercent } from "@/lib/format";
import { DataView, humanize } from "../common/DataView";
import { CountsTable, isCounts } from "./CountsTable";
import { MetricTable, isMetric, type MetricRow } from "./MetricTable";
import { OperatingPointSection, PopulationSection } from "./PopulationSection";
import { SubtypeSection } from "./SubtypeSection";
import { ValidationReports } from "./ValidationReports";
import { figureTitle } from "./figures";

export { figureTitle };

const METRICS: { key: string; label: string; help: string }[] = [
  { key: "auc", label: "ROC AUC", help: "How well the probability separates pneumonia from normal (1 is perfect)." },
  { key: "accuracy", label: "Accuracy", help: "Share of test images classified correctly." },
  { key: "sensitivity", label: "Sensitivity", help: "Share of pneumonia images that were flagged (recall)." },
  { key: "specificity", label: "Specificity", help: "Share of normal images that were not flagged." },
  { key: "precision", label: "Precision", help: "Share of flagged images that really showed pneumonia." },
  { key: "f1", label: "F1 score", help: "Balance of precision and sensitivity." },
];

export function ModelCardView({ card }: { card: ModelCard }) {
  const test = card.metrics?.test ?? null;
  const known = new Set(METRICS.map((m) => m.key));
  const testRows: MetricRow[] = test
    ? [
        ...METRICS.flatMap(({ key, label, help }) => {
          const metric = test[key as keyof typeof test];
          return isMetric(metric) ? [{ key, label, help, metric }] : [];
        }),
        ...Object.entries(test).flatMap(([key, metric]) =>
          !known.has(key) && isMetric(metric) ? [{ key, label: humanize(key), metric }] : [],
        ),
      ]
    : [];
  const cm = test?.confusion_matrix;
  const classes = card.class_names?.length ? card.class_names : ["NORMAL", "PNEUMONIA"];
  const counts = card.training_data?.counts ?? null;
  const figures = Object.entries(card.figures ?? {}).sort(([a], [b]) => {
    const order = [
      "roc_curve",
      "confusion_matrix",
      "score_distribution",
      "score_distribution_model_selection",
      "roc_curve_val",
      "confusion_matrix_val",
    ];
    const ia = order.indexOf(a) === -1 ? 99 : order.indexOf(a);
    const ib = order.indexOf(b) === -1 ? 99 : order.indexOf(b);
    return ia - ib || a.localeCompare(b);
  });

  return (
    <article aria-labelledby="model-title">
      <header className="page-head">
        <h1 id="model-title">Model card</h1>
        <p className="page-head__sub" data-testid="model-version">
          {card.model_version}
        </p>
      </header>

      <section className="card" aria-labelledby="mc-overview">
        <h2 id="mc-overview">Overview</h2>
        <dl className="dl">
          <dt>Architecture</dt>
          <dd>{card.architecture ?? "—"}</dd>
          <dt>Backbone</dt>
          <dd>{card.backbone ?? "—"}</dd>
          <dt>Starting weights</dt>
          <dd>{card.weights_origin ?? "—"}</dd>
          <dt>Classes</dt>
          <dd>{classes.join(", ")}</dd>
          <dt>Decision threshold</dt>
          <dd data-testid="model-threshold">
            {formatPercent(card.threshold)} <span className="hint">(probability {card.threshold.toFixed(4)})</span>
            {card.threshold_rule ? <span className="hint"> — {card.threshold_rule}</span> : null}
          </dd>
          <dt>Preprocessing</dt>
          <dd>
            <DataView value={card.preprocessing} />
          </dd>
        </dl>
      </section>

      <PopulationSection card={card} />
      <OperatingPointSection op={card.operating_point} />

      <section className="section" aria-labelledby="mc-metrics">
        <h2 id="mc-metrics">Performance on the test set</h2>
        {test ? (
          <>
            <p>
              Measured on {test.n ?? "the"} held-out test images. The 95% confidence interval (CI) gives the range the
              true value plausibly lies in.
            </p>
            <MetricTable rows={testRows} testId="metrics-table" />
            {cm && cm.length === 2 && cm.every((r) => r.length === 2) && (
              <div className="table-wrap">
                <table className="table table--matrix" data-testid="confusion-table">
                  <caption>Confusion matrix (test set): rows are the truth, columns the model&apos;s answer</caption>
                  <thead>
                    <tr>
                      <td />
                      <th scope="col">Predicted {classes[0]}</th>
                      <th scope="col">Predicted {classes[1]}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {cm.map((row, i) => (
                      <tr key={i}>
                        <th scope="row">Actual {classes[i]}</th>
                        <td>{row[0]}</td>
                        <td>{row[1]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        ) : (
          <p>No test metrics were recorded for this model.</p>
        )}
      </section>

      <SubtypeSection head={card.subtype_head} />

      <ValidationReports reports={card.validation_reports} />

      <section className="section" aria-labelledby="mc-data">
        <h2 id="mc-data">Training data</h2>
        <dl className="dl">
          <dt>Source</dt>
          <dd>{card.training_data?.source ?? "—"}</dd>
          {card.training_data?.fingerprint && (
            <>
              <dt>Fingerprint</dt>
              <dd>
                <code className="break">{card.training_data.fingerprint}</code>
              </dd>
            </>
          )}
        </dl>
        {counts && isCounts(counts) && <CountsTable counts={counts} caption="Images per split and class" />}
      </section>

      <section className="section columns" aria-label="Intended use and limitations">
        <div>
          <h2>Intended use</h2>
          <DataView value={card.intended_use} />
        </div>
        <div>
          <h2>Limitations</h2>
          <DataView value={card.limitations} />
        </div>
      </section>

      {figures.length > 0 && (
        <section className="section" aria-labelledby="mc-figures">
          <h2 id="mc-figures">Figures</h2>
          <div className="figures">
            {figures.map(([name, url]) => (
              <figure key={name} className="card">
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img src={apiUrl(url)} alt={figureTitle(name)} loading="lazy" />
                <figcaption>{figureTitle(name)}</figcaption>
              </figure>
            ))}
          </div>
        </section>
      )}
    </article>
  );
}
