import Link from "next/link";
import { studyHeatmapUrl, studyImageUrl } from "@/lib/api";
import type { Patient, Study } from "@/lib/definitions";
import { formatDate, formatVersus } from "@/lib/format";
import { HeatmapViewer } from "./HeatmapViewer";
import { ProbabilityBar } from "./ProbabilityBar";
import { SubtypeLine } from "./SubtypeLine";

/** Plain-words reading of a prediction (the label itself is the server's). */
export function resultSentence(label: string, probability: number, threshold: number): string {
  const rel = probability >= threshold ? "at or above" : "below";
  const [p, t] = formatVersus(probability, threshold);
  const where = `${p} is ${rel} the decision threshold of ${t}`;
  return label === "PNEUMONIA"
    ? `Signs suggestive of pneumonia: ${where}. A clinician should review the image promptly.`
    : `No signs of pneumonia found by the model: ${where}. This does not rule pneumonia out.`;
}

/** The result of one study: label, probability against the threshold, X-ray with heatmap, model. */
export function ResultView({ study, patient }: { study: Study; patient?: Patient | null }) {
  const pred = study.prediction;
  const [pText, tText] = pred ? formatVersus(pred.probability, pred.threshold) : ["—", "—"];
  return (
    <article className="result" aria-labelledby="result-title">
      <header className="page-head">
        <h1 id="result-title">Result of study {study.id}</h1>
        {patient && (
          <p className="page-head__sub">
            <Link href={`/patient/?id=${patient.id}`}>{patient.name}</Link> · MRN {patient.mrn}
          </p>
        )}
      </header>

      <div className="result__grid">
        <section className="card result__summary" aria-labelledby="summary-title">
          <h2 id="summary-title" className="visually-hidden">
            Summary
          </h2>
          {pred ? (
            <>
              <p className="result__label-row">
                <span className="result__label-caption">Result</span>
                <span
                  className={`badge badge--${pred.label === "PNEUMONIA" ? "pneumonia" : "normal"}`}
                  data-testid="result-label"
                >
                  {pred.label}
                </span>
              </p>
              <dl className="result__numbers">
                <div>
                  <dt>Probability of pneumonia</dt>
                  <dd className="result__probability" data-testid="result-probability">
                    {pText}
                  </dd>
                </div>
                <div>
                  <dt>Decision threshold</dt>
                  <dd data-testid="result-threshold">{tText}</dd>
                </div>
              </dl>
              <ProbabilityBar probability={pred.probability} threshold={pred.threshold} />
              <p className="result__sentence" data-testid="result-sentence">
                {resultSentence(pred.label, pred.probability, pred.threshold)}
              </p>
              <SubtypeLine prediction={pred} />
            </>
          ) : (
            <p className="notice notice--info" data-testid="result-missing">
              This study has no prediction yet.
            </p>
          )}
          <dl className="dl">
            <dt>Model version</dt>
            <dd data-testid="model-version">{pred?.model_version ?? "—"}</dd>
            {pred?.operating_point && (
              <>
                <dt>Operating point</dt>
                <dd data-testid="operating-point">{pred.operating_point}</dd>
              </>
            )}
            <dt>Analysed</dt>
            <dd>{formatDate(pred?.created_at ?? study.uploaded_at, true)}</dd>
            <dt>File</dt>
            <dd>
              {study.original_filename ?? "—"}
              {study.format ? ` (${study.format.toUpperCase()})` : ""}
            </dd>
          </dl>
          <p className="actions">
            <Link className="button" href={`/report/?id=${study.id}`}>
              Open the report
            </Link>
            <Link className="button button--secondary" href="/exam/">
              New examination
            </Link>
          </p>
          <p className="hint">
            PneumoScan supports screening; it does not replace a clinician&apos;s reading of the image.
          </p>
        </section>

        <section className="card result__image" aria-labelledby="image-title">
          <h2 id="image-title">X-ray and heatmap</h2>
          <HeatmapViewer imageUrl={studyImageUrl(study)} heatmapUrl={studyHeatmapUrl(study)} />
        </section>
      </div>
    </article>
  );
}
