"use client";
import Link from "next/link";
import { studyHeatmapUrl, studyImageUrl } from "@/lib/api";
import type { Report } from "@/lib/definitions";
import { formatDate, formatPercent, formatVersus, patientAge, sexLabel } from "@/lib/format";
import { DataView } from "../common/DataView";
import { ProbabilityBar } from "../study/ProbabilityBar";
import { resultSentence } from "../study/ResultView";
import { SubtypeLine } from "../study/SubtypeLine";
import { CountsTable, isCounts } from "../model/CountsTable";
import { DownloadPdfButton } from "./DownloadPdfButton";

/** The report's training-data summary: its counts as a table, anything else as given. */
function TrainingData({ value }: { value: unknown }) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return <DataView value={value} />;
  const { counts, ...rest } = value as Record<string, unknown>;
  return (
    <>
      {Object.keys(rest).length > 0 && <DataView value={rest} />}
      {isCounts(counts) ? <CountsTable counts={counts} /> : counts != null && <DataView value={{ counts }} />}
    </>
  );
}

const DEFAULT_NOTICE =
  "This report supports, and does not replace, a clinician's diagnosis. The result is a screening aid produced by a machine-learning model and must be read together with the clinical picture.";

/** The printable report of one study (a print stylesheet hides the page chrome and buttons). */
export function ReportView({ report }: { report: Report }) {
  const { study, patient, model } = report;
  const pred = study.prediction;
  const heatmapUrl = studyHeatmapUrl(study);
  return (
    <article className="report" aria-labelledby="report-title">
      <div className="report__toolbar no-print">
        <Link href={`/study/?id=${study.id}`}>← Back to the result</Link>
        <div className="actions">
          <button type="button" className="button button--secondary" onClick={() => window.print()}>
            Print
          </button>
          <DownloadPdfButton study={study} />
        </div>
      </div>

      <header className="report__head">
        <div>
          <p className="report__brand">PneumoScan</p>
          <h1 id="report-title">Chest X-ray screening report</h1>
        </div>
        <dl className="dl dl--compact report__meta">
          <dt>Study</dt>
          <dd>{study.id}</dd>
          <dt>Date</dt>
          <dd data-testid="report-date">
            {formatDate(report.generated_at ?? pred?.created_at ?? study.uploaded_at, true)}
          </dd>
          <dt>X-ray received</dt>
          <dd>{formatDate(study.uploaded_at, true)}</dd>
        </dl>
      </header>

      <section className="report__section" aria-labelledby="rp-patient">
        <h2 id="rp-patient">Patient</h2>
        {patient ? (
          <dl className="dl report__dl" data-testid="report-patient">
            <dt>Name</dt>
            <dd>{patient.name}</dd>
            <dt>Patient ID (MRN)</dt>
            <dd>{patient.mrn}</dd>
            <dt>Sex</dt>
            <dd>{sexLabel(patient.sex)}</dd>
            <dt>Birth date</dt>
            <dd>{patient.birth_date ? formatDate(patient.birth_date) : "—"}</dd>
            <dt>Age</dt>
            <dd>{patientAge(patient)}</dd>
            <dt>Referring doctor</dt>
            <dd>{patient.referring_doctor || "—"}</dd>
            <dt>Symptoms and notes</dt>
            <dd className="pre-line">{patient.notes || "—"}</dd>
          </dl>
        ) : (
          <p>No patient is linked to this study.</p>
        )}
      </section>

      <section className="report__section" aria-labelledby="rp-result">
        <h2 id="rp-result">Result</h2>
        {pred ? (
          <div className="report__result">
            <p>
              <span
                className={`badge badge--${pred.label === "PNEUMONIA" ? "pneumonia" : "normal"}`}
                data-testid="result-label"
              >
                {pred.label}
              </span>{" "}
              Probability of pneumonia{" "}
              <strong data-testid="result-probability">{formatVersus(pred.probability, pred.threshold)[0]}</strong>{" "}
              against a decision threshold of <strong>{formatVersus(pred.probability, pred.threshold)[1]}</strong>.
            </p>
            <ProbabilityBar probability={pred.probability} threshold={pred.threshold} />
            <p>{resultSentence(pred.label, pred.probability, pred.threshold)}</p>
            <SubtypeLine prediction={pred} />
            {pred.operating_point && (
              <p data-testid="operating-point">
                Operating point that produced this answer: <strong>{pred.operating_point}</strong>.
              </p>
            )}
          </div>
        ) : (
          <p>This study has no prediction.</p>
        )}
      </section>

      <section className="report__section report__images" aria-labelledby="rp-images">
        <h2 id="rp-images">Images</h2>
        <div className="report__figures">
          <figure>
            {/* eslint-disable-next-line @next/next/no-img-element */}
            <img src={studyImageUrl(study)} alt="Chest X-ray" />
            <figcaption>Chest X-ray{study.original_filename ? ` (${study.original_filename})` : ""}</figcaption>
          </figure>
          {heatmapUrl ? (
            <figure>
              <div className="report__overlay">
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img src={studyImageUrl(study)} alt="" />
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img className="report__overlay-heat" src={heatmapUrl} alt="Heatmap overlay" />
              </div>
              <figcaption>Heatmap (Grad-CAM): the regions that weighed most in the result.</figcaption>
            </figure>
          ) : (
            <p className="hint">No heatmap was made for this study.</p>
          )}
        </div>
      </section>

      <section className="report__section" aria-labelledby="rp-model">
        <h2 id="rp-model">Model and training data</h2>
        <dl className="dl report__dl">
          <dt>Model version</dt>
          <dd data-testid="model-version">{model?.model_version ?? pred?.model_version ?? "—"}</dd>
          <dt>Architecture</dt>
          <dd>{model?.architecture ?? "—"}</dd>
          {model?.threshold != null && (
            <>
              <dt>Decision threshold</dt>
              <dd>
                {formatPercent(model.threshold)}
                {model.threshold_rule ? ` (${model.threshold_rule})` : ""}
              </dd>
            </>
          )}
          <dt>Training data</dt>
          <dd>
            <TrainingData value={model?.training_data} />
          </dd>
          <dt>Test metrics</dt>
          <dd>
            <DataView value={model?.metrics} />
          </dd>
          {model?.intended_use != null && (
            <>
              <dt>Intended use</dt>
              <dd>
                <DataView value={model.intended_use} />
              </dd>
            </>
          )}
        </dl>
        {model?.note && (
          <p className="notice notice--info" data-testid="model-note">
            {model.note}
          </p>
        )}
        <p className="no-print">
          <Link href="/model/">The full model card</Link>
        </p>
      </section>

      <footer className="report__notice" role="note" data-testid="report-notice">
        <strong>Important.</strong> {report.notice || DEFAULT_NOTICE}
      </footer>
    </article>
  );
}
