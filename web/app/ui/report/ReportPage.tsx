"use client";
import { useSearchParams } from "next/navigation";
import { getReport } from "@/lib/api";
import { parseId } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { ErrorNotice, MissingId } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { ReportView } from "./ReportView";

export function ReportPage() {
  const id = parseId(useSearchParams().get("id"));
  const report = useApi(id ? (signal) => getReport(id, signal) : null, [id]);
  if (!id) return <MissingId what="study" href="/patients/" linkLabel="Find a patient and their reports" />;
  if (report.status === "loading") return <Skeleton lines={6} image label="Loading the report…" />;
  if (report.status === "error")
    return (
      <ErrorNotice
        error={report.error}
        title={`The report for study ${id} could not be shown`}
        onRetry={report.reload}
        backHref="/patients/"
        backLabel="Go to patients"
      />
    );
  return <ReportView report={report.data} />;
}
