"use client";
import { useRouter, useSearchParams } from "next/navigation";
import { getModelCard, getPatient } from "@/lib/api";
import { parseId } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { ExamForm } from "./ExamForm";

/** /exam/ for a new patient, or /exam/?patient=N to add an X-ray for patient N (with the model card's population). */
export function ExamPage() {
  const router = useRouter();
  const patientId = parseId(useSearchParams().get("patient"));
  const patient = useApi(patientId ? (signal) => getPatient(patientId, signal) : null, [patientId]);
  // The intended population, for the age warning; the form works without it (older runs, errors).
  const card = useApi((signal) => getModelCard(signal), []);
  const population = card.data?.intended_population ?? null;
  const onDone = (study: { id: number }) => router.push(`/study/?id=${study.id}`);

  if (!patientId) return <ExamForm key="new" onDone={onDone} population={population} />;
  if (patient.status === "loading") return <Skeleton lines={4} label="Loading the patient…" />;
  if (patient.status === "error")
    return (
      <ErrorNotice
        error={patient.error}
        title={`Patient ${patientId} could not be loaded`}
        onRetry={patient.reload}
        backHref="/exam/"
        backLabel="Start an examination for a new patient"
      />
    );
  return <ExamForm key={`patient-${patientId}`} onDone={onDone} patient={patient.data} population={population} />;
}
