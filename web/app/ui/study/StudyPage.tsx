"use client";
import { useSearchParams } from "next/navigation";
import { getPatient, getStudy } from "@/lib/api";
import { parseId } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { ErrorNotice, MissingId } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { ResultView } from "./ResultView";

export function StudyPage() {
  const id = parseId(useSearchParams().get("id"));
  const study = useApi(id ? (signal) => getStudy(id, signal) : null, [id]);
  const patientId = study.status === "success" ? (study.data.patient_id ?? null) : null;
  // The patient's name is a courtesy on this page: a failure here is not shown as an error.
  const patient = useApi(patientId ? (signal) => getPatient(patientId, signal) : null, [patientId]);

  if (!id) return <MissingId what="study" href="/patients/" linkLabel="Find a patient and their studies" />;
  if (study.status === "loading") return <Skeleton lines={4} image label="Loading the result…" />;
  if (study.status === "error")
    return (
      <ErrorNotice
        error={study.error}
        title={`Study ${id} could not be shown`}
        onRetry={study.reload}
        backHref="/patients/"
        backLabel="Go to patients"
      />
    );
  return <ResultView study={study.data} patient={patient.status === "success" ? patient.data : null} />;
}
