"use client";
import { useState } from "react";
import { errorMessage, fetchReportPdf } from "@/lib/api";
import type { Study } from "@/lib/definitions";

/** Fetches GET /api/reports/{id}.pdf and saves it; the server's error is shown if it fails. */
export function DownloadPdfButton({ study }: { study: Pick<Study, "id" | "report_pdf_url"> }) {
  const [state, setState] = useState<{ status: "idle" | "working" | "done" } | { status: "error"; error: unknown }>({
    status: "idle",
  });

  async function download() {
    setState({ status: "working" });
    try {
      const blob = await fetchReportPdf(study);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `pneumoscan-report-${study.id}.pdf`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setState({ status: "done" });
    } catch (error) {
      setState({ status: "error", error });
    }
  }

  return (
    <div className="download">
      <button
        type="button"
        className="button"
        onClick={download}
        aria-disabled={state.status === "working" || undefined}
      >
        Download PDF
      </button>
      <span className="visually-hidden" role="status" aria-live="polite">
        {state.status === "working"
          ? "Preparing the PDF…"
          : state.status === "done"
            ? "The PDF has been downloaded."
            : ""}
      </span>
      {state.status === "working" && <span className="hint"> Preparing the PDF…</span>}
      {state.status === "error" && (
        <p className="field-error" role="alert" data-testid="pdf-error">
          The PDF could not be downloaded: {errorMessage(state.error)}
        </p>
      )}
    </div>
  );
}
