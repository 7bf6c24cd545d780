import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { RefusalNotice } from "@/app/ui/study/RefusalNotice";
import { ResultView } from "@/app/ui/study/ResultView";
import { ApiError } from "@/lib/api";
import { PATIENT, makeStudy } from "./fixtures";

describe("ResultView", () => {
  it("shows the label and the probability against the threshold", () => {
    render(<ResultView study={makeStudy()} patient={PATIENT} />);
    expect(screen.getByTestId("result-label")).toHaveTextContent("PNEUMONIA");
    expect(screen.getByTestId("result-probability")).toHaveTextContent("93.4%");
    expect(screen.getByTestId("result-threshold")).toHaveTextContent("41.0%");

    const meter = screen.getByRole("meter", { name: "Probability of pneumonia" });
    expect(meter).toHaveAttribute("aria-valuenow", "93.4");
    expect(meter).toHaveAttribute("aria-valuetext", "93.4%, at or above the decision threshold of 41.0%");
    expect(screen.getByTestId("threshold-marker")).toHaveStyle({ left: "41%" });
    expect(screen.getByTestId("threshold-marker")).toHaveTextContent("Threshold 41.0%");
    expect(screen.getByTestId("result-sentence")).toHaveTextContent(
      "93.4% is at or above the decision threshold of 41.0%",
    );

    expect(screen.getByTestId("model-version")).toHaveTextContent("efficientnet_lite0-20240501-abc123");
    expect(screen.getByRole("link", { name: "Open the report" })).toHaveAttribute(
      "href",
      expect.stringMatching(/^\/report\/?\?id=12$/),
    );
    expect(screen.getByRole("link", { name: PATIENT.name })).toHaveAttribute(
      "href",
      expect.stringMatching(/^\/patient\/?\?id=7$/),
    );
  });

  it("adds the bacterial/viral pattern under a pneumonia answer, worded as support", () => {
    const wording =
      "Pattern more like viral pneumonia (p = 0.71); this head was right on 84% of test images; supports, does not replace, clinical judgement.";
    const subtype = { pattern: "viral" as const, probability: 0.71, head_test_accuracy: 0.84, wording };
    render(<ResultView study={makeStudy({}, { subtype })} />);
    expect(screen.getByTestId("result-subtype")).toHaveTextContent(wording);
  });

  it("shows no pattern without one, or under a NORMAL answer", () => {
    const { unmount } = render(<ResultView study={makeStudy()} />);
    expect(screen.queryByTestId("result-subtype")).toBeNull();
    unmount();
    const subtype = { pattern: "bacterial" as const, probability: 0.8, head_test_accuracy: 0.84, wording: "x" };
    render(<ResultView study={makeStudy({}, { label: "NORMAL", probability: 0.1, subtype })} />);
    expect(screen.queryByTestId("result-subtype")).toBeNull();
  });

  it("shows a NORMAL result below the threshold", () => {
    render(<ResultView study={makeStudy({}, { label: "NORMAL", probability: 0.12, threshold: 0.41 })} />);
    expect(screen.getByTestId("result-label")).toHaveTextContent("NORMAL");
    expect(screen.getByTestId("result-probability")).toHaveTextContent("12.0%");
    expect(screen.getByRole("meter")).toHaveAttribute("aria-valuetext", "12.0%, below the decision threshold of 41.0%");
    expect(screen.getByTestId("result-sentence")).toHaveTextContent("does not rule pneumonia out");
  });

  it("overlays the heatmap with a toggle and an opacity slider", async () => {
    const user = userEvent.setup();
    render(<ResultView study={makeStudy()} />);
    const heat = screen.getByAltText("Heatmap overlay");
    expect(heat).toHaveAttribute("src", "/api/studies/12/heatmap");
    expect(screen.getByAltText("Chest X-ray")).toHaveAttribute("src", "/api/studies/12/image");
    expect(heat).toHaveStyle({ opacity: "0.6" });

    fireEvent.change(screen.getByLabelText("Heatmap opacity"), { target: { value: "30" } });
    expect(heat).toHaveStyle({ opacity: "0.3" });

    const toggle = screen.getByRole("switch", { name: "Show heatmap" });
    expect(toggle).toBeChecked();
    await user.click(toggle);
    expect(heat).not.toBeVisible();
    expect(screen.getByLabelText("Heatmap opacity")).toBeDisabled();
    await user.click(toggle);
    expect(heat).toBeVisible();
  });

  it("says so when the server made no heatmap", () => {
    render(<ResultView study={makeStudy({ heatmap_url: null })} />);
    expect(screen.queryByAltText("Heatmap overlay")).not.toBeInTheDocument();
    expect(screen.getByText("No heatmap for this study.")).toBeInTheDocument();
    expect(screen.getByAltText("Chest X-ray")).toBeInTheDocument();
  });

  it("says so when a study has no prediction", () => {
    render(<ResultView study={makeStudy({ prediction: null })} />);
    expect(screen.getByTestId("result-missing")).toBeInTheDocument();
    expect(screen.queryByTestId("result-label")).not.toBeInTheDocument();
  });
});

describe("RefusalNotice", () => {
  it("gives the reason in plain words, the server's message, and a way to try another image", async () => {
    const user = userEvent.setup();
    const onTryAnother = vi.fn();
    const error = new ApiError({
      status: 422,
      code: "not_chest_xray",
      reason: "ct_or_mr",
      message: "This looks like a CT slice; upload a plain chest radiograph.",
    });
    render(<RefusalNotice error={error} onTryAnother={onTryAnother} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveAttribute("data-testid", "refusal");
    expect(within(alert).getByTestId("refusal-reason")).toHaveTextContent("CT or MR slice");
    expect(within(alert).getByTestId("refusal-message")).toHaveTextContent(
      "This looks like a CT slice; upload a plain chest radiograph.",
    );
    expect(alert).toHaveFocus();
    await user.click(within(alert).getByRole("button", { name: "Try another image" }));
    expect(onTryAnother).toHaveBeenCalledOnce();
  });
});
