import { humanize } from "../common/DataView";

const FIGURE_TITLES: Record<string, string> = {
  roc_curve: "ROC curve",
  confusion_matrix: "Confusion matrix",
  pr_curve: "Precision–recall curve",
  calibration: "Calibration",
  class_distribution: "Class distribution",
  training_curves: "Training curves",
  sample_images: "Sample training images",
  test_predictions: "Test predictions",
  score_distribution: "Score distribution",
};

const SPLIT_NAMES: Record<string, string> = {
  val: "validation",
  test: "test",
  train: "training",
  model_selection: "model-selection",
};

/** "roc_curve" -> "ROC curve"; "roc_curve_val" -> "ROC curve (validation)". */
export function figureTitle(name: string): string {
  if (FIGURE_TITLES[name]) return FIGURE_TITLES[name];
  const m = /^(.*?)_(model_selection|val|test|train)$/.exec(name);
  if (m) return `${figureTitle(m[1])} (${SPLIT_NAMES[m[2]]} split)`;
  return humanize(name).replace(/\broc\b/gi, "ROC");
}
