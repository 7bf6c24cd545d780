"use client";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { getPatient } from "@/lib/api";
import type { PatientWithStudies } from "@/lib/definitions";
import { formatDate, formatProbability, parseId, patientAge, sexLabel } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { ErrorNotice, MissingId } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";

export function PatientView({ patient }: { patient: PatientWithStudies }) {
  const studies = [...patient.studies].sort(
    (a, b) => (b.uploaded_at ?? "").localeCompare(a.uploaded_at ?? "") || b.id - a.id,
  );
  return (
    <>
      <header className="page-head">
        <p className="breadcrumb">
          <Link href="/patients/">Patients</Link> /
        </p>
        <h1 data-testid="patient-name">{patient.name}</h1>
        <p className="page-head__sub">MRN {patient.mrn}</p>
        <p className="actions page-head__actions">
          <Link className="button" href={`/exam/?patient=${patient.id}`}>
            Add an X-ray for this patient
          </Link>
        </p>
      </header>
      <section className="card" aria-labelledby="details-title">
        <h2 id="details-title">Details</h2>
        <dl className="dl">
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
          <dt>Added</dt>
          <dd>{formatDate(patient.created_at, true)}</dd>
        </dl>
      </section>
      <section className="section" aria-labelledby="studies-title">
        <h2 id="studies-title">Studies</h2>
        {studies.length === 0 ? (
          <p>No X-ray has been analysed for this patient yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="studies-table">
              <thead>
                <tr>
                  <th scope="col">Study</th>
                  <th scope="col">Date</th>
                  <th scope="col">Result</th>
                  <th scope="col">Probability</th>
                  <th scope="col">Report</th>
                </tr>
              </thead>
              <tbody>
                {studies.map((s) => (
                  <tr key={s.id}>
                    <th scope="row">
                      <Link href={`/study/?id=${s.id}`}>Result of study {s.id}</Link>
                    </th>
                    <td data-label="Date">{formatDate(s.uploaded_at, true)}</td>
                    <td data-label="Result">
                      {s.prediction ? (
                        <span className={`badge badge--${s.prediction.label === "PNEUMONIA" ? "pneumonia" : "normal"}`}>
                          {s.prediction.label}
                        </span>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td data-label="Probability">{formatProbability(s.prediction?.probability)}</td>
                    <td data-label="Report">
                      <Link href={`/report/?id=${s.id}`}>Report of study {s.id}</Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

export function PatientPage() {
  const id = parseId(useSearchParams().get("id"));
  const patient = useApi(id ? (signal) => getPatient(id, signal) : null, [id]);
  if (!id) return <MissingId what="patient" href="/patients/" linkLabel="Go to the patient list" />;
  if (patient.status === "loading") return <Skeleton lines={6} label="Loading the patient…" />;
  if (patient.status === "error")
    return (
      <ErrorNotice
        error={patient.error}
        title={`Patient ${id} could not be shown`}
        onRetry={patient.reload}
        backHref="/patients/"
        backLabel="Go to patients"
      />
    );
  return <PatientView patient={patient.data} />;
}
