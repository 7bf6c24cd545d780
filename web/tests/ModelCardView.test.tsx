import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ModelCardView, figureTitle } from "@/app/ui/model/ModelCardView";
import { modelCardSchema, type ModelCard } from "@/lib/definitions";
import { MODEL_CARD, POPULATION, VALIDATION_REPORTS } from "./fixtures";

const CARD_WITH_VALIDATION: ModelCard = {
  ...MODEL_CARD,
  threshold: 0.62,
  intended_population: POPULATION,
  population_check: {
    kind: "feature_distance",
    threshold: 0.4321,
    fitted_on: ["kermany_train", "nih_children"],
    held_out: ["adult_normal_openist", "jsrt"],
  },
  operating_point: {
    source: "site",
    threshold: 0.62,
    rule: { rule: "sensitivity", min_sensitivity: 0.95 },
    label: "site Hospital X (sensitivity >= 0.95, platt)",
    site: "Hospital X",
    n_per_class: { NORMAL: 120, PNEUMONIA: 130 },
    date: "2026-11-29",
    original_threshold: 0.728,
    recalibration: "platt",
  },
  validation_reports: VALIDATION_REPORTS,
};

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

describe("ModelCardView: population, operating point and validation reports", () => {
  it("shows the intended population, the population check and the site's operating point", () => {
    render(<ModelCardView card={CARD_WITH_VALIDATION} />);
    const pop = screen.getByTestId("intended-population");
    expect(pop).toHaveTextContent("Validated on children aged 1–5 years.");
    expect(within(pop).getByTestId("population-ages")).toHaveTextContent("1 to 5 years (both included)");
    expect(pop).toHaveTextContent("PA, AP");
    expect(pop).toHaveTextContent(POPULATION.description!);
    const check = screen.getByTestId("population-check");
    expect(check).toHaveTextContent("Feature distance");
    expect(check).toHaveTextContent("0.4321");
    expect(check).toHaveTextContent("kermany_train, nih_children");
    expect(check).toHaveTextContent("adult_normal_openist, jsrt");

    const op = screen.getByTestId("operating-point");
    expect(op).toHaveTextContent("the site's own labelled images: Hospital X");
    expect(op).toHaveTextContent("62.0%");
    expect(op).toHaveTextContent("site Hospital X (sensitivity >= 0.95, platt)");
    expect(op).toHaveTextContent("NORMAL 120, PNEUMONIA 130");
    expect(op).toHaveTextContent("2026-11-29");
    expect(op).toHaveTextContent("Original validation threshold72.8%");
    expect(op).toHaveTextContent("platt");
  });

  it("shows every validation report: source, n, answered, refusals by reason, metrics with CIs, figures", () => {
    render(<ModelCardView card={CARD_WITH_VALIDATION} />);
    const reports = screen.getAllByTestId("validation-report");
    expect(reports).toHaveLength(2);

    const [adult, kermany] = reports;
    expect(within(adult).getByRole("heading", { name: "adult_normal_openist" })).toBeInTheDocument();
    expect(adult).toHaveTextContent("Images272");
    expect(adult).toHaveTextContent("Answered229 (84.2%)");
    expect(adult).toHaveTextContent("Refused43 (15.8%)");
    const refused = within(adult).getByTestId("report-refused");
    expect(within(refused).getByRole("row", { name: /Outside intended population/ })).toHaveTextContent("40 (14.7%)");
    expect(within(refused).getByRole("row", { name: /Lateral view/ })).toHaveTextContent("3");
    expect(within(refused).queryByRole("row", { name: /Photograph/ })).toBeNull(); // zero counts are left out
    expect(adult).toHaveTextContent("Called pneumonia68.0% of the answered images");
    const adultMetrics = within(adult).getByTestId("report-metrics");
    expect(within(adultMetrics).getAllByRole("row")).toHaveLength(2); // header + specificity only
    expect(within(adultMetrics).getByRole("row", { name: /Specificity/ })).toHaveTextContent("0.260 – 0.380");
    expect(screen.getByAltText("Score histogram (adult_normal_openist)")).toHaveAttribute(
      "src",
      "/api/model/validation/adult_normal_openist/score_histogram.png",
    );

    const metrics = within(kermany).getByTestId("report-metrics");
    expect(within(metrics).getByRole("row", { name: /ROC AUC/ })).toHaveTextContent("0.9590.944 – 0.972");
    expect(within(metrics).getByRole("row", { name: /PPV/ })).toHaveTextContent("0.866 – 0.921");
    expect(within(metrics).getByRole("row", { name: /NPV/ })).toHaveTextContent("0.870 – 0.945");
    expect(kermany).toHaveTextContent("Brier score0.072 (95% CI 0.050–0.095)");
    expect(screen.getByAltText("ROC curve (kermany_test)")).toBeInTheDocument();
    // The run's own ROC figure keeps its plain name.
    expect(screen.getByAltText("ROC curve")).toHaveAttribute("src", "/api/model/figures/roc_curve.png");
  });

  it("handles a card from an older run without any of them", () => {
    const older = modelCardSchema.parse(JSON.parse(JSON.stringify(MODEL_CARD)));
    expect(older.validation_reports).toBeUndefined();
    render(<ModelCardView card={older} />);
    expect(screen.getByTestId("population-missing")).toHaveTextContent("does not state the population");
    expect(screen.getByTestId("validation-reports-missing")).toHaveTextContent("No validation reports");
    expect(screen.queryByTestId("validation-report")).toBeNull();
    expect(screen.queryByTestId("operating-point")).toBeNull();
    expect(screen.queryByTestId("population-check")).toBeNull();
    expect(screen.getByTestId("metrics-table")).toBeInTheDocument();
  });

  it("accepts the new fields from the server, and null where they are empty", () => {
    const parsed = modelCardSchema.parse({
      ...CARD_WITH_VALIDATION,
      population_check: null,
      validation_reports: [{ ...VALIDATION_REPORTS[0], auc: null, figures: {} }],
    });
    expect(parsed.intended_population?.age_max_years).toBe(5);
    expect(parsed.operating_point?.original_threshold).toBe(0.728);
    expect(parsed.validation_reports?.[0].refused?.outside_intended_population).toBe(40);
    expect(modelCardSchema.safeParse({ ...MODEL_CARD, validation_reports: [{ source: "x" }] }).success).toBe(false);
  });
});

describe("ModelCardView: the bacterial-vs-viral head", () => {
  const head = {
    kind: "logistic_features",
    features: "block_means",
    threshold: 0.43,
    fitted_on: { train: { bacterial: 2000, viral: 1100 }, test: { bacterial: 242, viral: 148 } },
    metrics: {
      positive_class: "viral",
      test: {
        n: 390,
        auc: { value: 0.912, ci_low: 0.884, ci_high: 0.938 },
        accuracy: { value: 0.846, ci_low: 0.81, ci_high: 0.88 },
        sensitivity: { value: 0.811, ci_low: 0.75, ci_high: 0.87 },
        specificity: { value: 0.868, ci_low: 0.82, ci_high: 0.91 },
      },
    },
    wording: "supports, does not replace, clinical judgement",
  };

  it("shows its test metrics with CIs and the test counts, parsed from the server's card", () => {
    const card = modelCardSchema.parse({ ...MODEL_CARD, subtype_head: head });
    render(<ModelCardView card={card} />);
    const table = screen.getByTestId("subtype-metrics-table");
    expect(within(table).getByText("Test pneumonia images: 242 bacterial, 148 viral")).toBeInTheDocument();
    const auc = within(table).getByRole("row", { name: /ROC AUC/ });
    expect(auc).toHaveTextContent("0.912");
    expect(auc).toHaveTextContent("0.884 – 0.938");
    expect(within(table).getByRole("row", { name: /Sensitivity \(viral\)/ })).toHaveTextContent("0.811");
    expect(screen.getByText(/supports, does not replace, clinical judgement/)).toBeInTheDocument();
  });

  it("shows nothing for a run without the head", () => {
    render(<ModelCardView card={MODEL_CARD} />);
    expect(screen.queryByTestId("subtype-metrics-table")).toBeNull();
    expect(screen.queryByText(/bacterial or viral/)).toBeNull();
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
