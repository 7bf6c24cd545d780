import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ModelCardView, figureTitle } from "@/app/ui/model/ModelCardView";
import { MODEL_CARD } from "./fixtures";

describe("ModelCardView", () => {
  it("shows metrics with their 95% confidence intervals, counts, and figures", () => {
    render(<ModelCardView card={MODEL_CARD} />);
    const metrics = screen.getByTestId("metrics-table");
    const auc = within(metrics).getByRole("row", { name: /ROC AUC/ });
    expect(auc).toHaveTextContent("0.962");
    expect(auc).toHaveTextContent("0.948 – 0.975");
    expect(within(metrics).getByRole("row", { name: /Sensitivity/ })).toHaveTextContent("0.925 – 0.970");

    const counts = screen.getByTestId("counts-table");
    const rows = within(counts)
      .getAllByRole("row")
      .map((r) => r.textContent);
    expect(rows[1]).toMatch(/^Train12003400/);
    expect(rows[3]).toMatch(/^Test234390624$/);

    expect(
      within(screen.getByTestId("confusion-table")).getByRole("row", { name: /Actual PNEUMONIA/ }),
    ).toHaveTextContent("20370");
    expect(screen.getByAltText("ROC curve")).toHaveAttribute("src", "/api/model/figures/roc_curve.png");
    expect(screen.getByAltText("Confusion matrix")).toHaveAttribute("src", "/api/model/figures/confusion_matrix.png");
    expect(screen.getByTestId("model-threshold")).toHaveTextContent("41.0%");
    expect(screen.getByText("Pediatric frontal views only.")).toBeInTheDocument();
  });
});

describe("figureTitle", () => {
  it("names the run's figures for people", () => {
    expect(figureTitle("roc_curve")).toBe("ROC curve");
    expect(figureTitle("roc_curve_val")).toBe("ROC curve (validation split)");
    expect(figureTitle("confusion_matrix_test")).toBe("Confusion matrix (test split)");
    expect(figureTitle("predictions_val")).toBe("Predictions (validation split)");
    expect(figureTitle("score_distribution")).toBe("Score distribution");
    expect(figureTitle("score_distribution_model_selection")).toBe("Score distribution (model-selection split)");
    expect(figureTitle("something_new")).toBe("Something new");
  });
});
