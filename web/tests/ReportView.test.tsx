import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ReportView } from "@/app/ui/report/ReportView";
import type { Report } from "@/lib/definitions";
import { PATIENT, makeStudy } from "./fixtures";

const REPORT: Report = {
  study: makeStudy(),
  patient: PATIENT,
  model: {
    model_version: "efficientnet_lite0-20240501-abc123",
    architecture: "EfficientNet-Lite0 + linear head",
    training_data: { source: "Kermany 2018", counts: { train: { NORMAL: 1200, PNEUMONIA: 3400 } } },
    metrics: { auc: { value: 0.962, ci_low: 0.948, ci_high: 0.975 } },
  },
  generated_at: "2024-05-02T10:00:00Z",
  notice: "This report supports, and does not replace, a clinician's diagnosis.",
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("ReportView", () => {
  it("states the bacterial/viral pattern under a pneumonia answer that carries one", () => {
    const wording =
      "Pattern more like bacterial pneumonia (p = 0.83); this head was right on 84% of test images; supports, does not replace, clinical judgement.";
    const subtype = { pattern: "bacterial" as const, probability: 0.83, head_test_accuracy: 0.84, wording };
    const { unmount } = render(<ReportView report={{ ...REPORT, study: makeStudy({}, { subtype }) }} />);
    expect(screen.getByTestId("result-subtype")).toHaveTextContent(wording);
    unmount();
    render(<ReportView report={REPORT} />);
    expect(screen.queryByTestId("result-subtype")).toBeNull();
  });

  it("holds the patient, the result, the images, the model and the notice", () => {
    render(<ReportView report={REPORT} />);
    const patient = screen.getByTestId("report-patient");
    expect(within(patient).getByText("Amina Yusuf")).toBeInTheDocument();
    expect(within(patient).getByText("MRN-0042")).toBeInTheDocument();
    expect(within(patient).getByText("Dr. Okafor")).toBeInTheDocument();
    expect(screen.getByTestId("result-label")).toHaveTextContent("PNEUMONIA");
    expect(screen.getByTestId("result-probability")).toHaveTextContent("93.4%");
    expect(screen.getByAltText("Heatmap overlay")).toHaveAttribute("src", "/api/studies/12/heatmap");
    expect(screen.getByTestId("model-version")).toHaveTextContent("efficientnet_lite0-20240501-abc123");
    expect(within(screen.getByTestId("counts-table")).getByRole("row", { name: /Train/ })).toHaveTextContent("4600");
    expect(screen.getByText("0.962 (95% CI 0.948–0.975)")).toBeInTheDocument();
    expect(screen.getByTestId("report-notice")).toHaveTextContent("does not replace, a clinician's diagnosis");
  });

  it("names the operating point that produced the answer, when the prediction carries one", () => {
    const study = makeStudy({}, { operating_point: "site: Hospital X, 2026-11-29" });
    const { unmount } = render(<ReportView report={{ ...REPORT, study }} />);
    expect(screen.getByTestId("operating-point")).toHaveTextContent(
      "Operating point that produced this answer: site: Hospital X, 2026-11-29.",
    );
    unmount();
    render(<ReportView report={REPORT} />);
    expect(screen.queryByTestId("operating-point")).toBeNull();
  });

  it("downloads the PDF from the API", async () => {
    const user = userEvent.setup();
    const fetchMock = vi
      .fn()
      .mockResolvedValue(new Response("%PDF-1.4", { headers: { "Content-Type": "application/pdf" } }));
    vi.stubGlobal("fetch", fetchMock);
    const createObjectURL = vi.fn().mockReturnValue("blob:report");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    render(<ReportView report={REPORT} />);
    await user.click(screen.getByRole("button", { name: "Download PDF" }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(fetchMock).toHaveBeenCalledWith("/api/reports/12.pdf", expect.anything());
    expect(createObjectURL).toHaveBeenCalled();
    expect(screen.getByText("The PDF has been downloaded.")).toBeInTheDocument();
  });

  it("shows the server's reason when the PDF cannot be made", async () => {
    const user = userEvent.setup();
    vi.stubGlobal(
      "fetch",
      vi.fn().mockResolvedValue(
        new Response(JSON.stringify({ error: { status: 404, code: "not_found", message: "There is no study 12." } }), {
          status: 404,
          headers: { "Content-Type": "application/json" },
        }),
      ),
    );
    render(<ReportView report={REPORT} />);
    await user.click(screen.getByRole("button", { name: "Download PDF" }));
    expect(await screen.findByTestId("pdf-error")).toHaveTextContent("There is no study 12.");
  });
});
