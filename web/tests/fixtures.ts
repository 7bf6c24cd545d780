import type { InspectResult, IntendedPopulation, ModelCard, Patient, Study, ValidationReport } from "@/lib/definitions";

export const PATIENT: Patient = {
  id: 7,
  name: "Amina Yusuf",
  mrn: "MRN-0042",
  sex: "female",
  birth_date: "2019-04-23",
  age_years: null,
  referring_doctor: "Dr. Okafor",
  notes: "Fever for 3 days, cough",
  created_at: "2024-05-02T09:30:00Z",
};

export function makeStudy(
  overrides: Partial<Study> = {},
  prediction: Partial<NonNullable<Study["prediction"]>> = {},
): Study {
  return {
    id: 12,
    patient_id: 7,
    sha256: "ab".repeat(32),
    original_filename: "chest.png",
    format: "png",
    dicom_tags: null,
    uploaded_at: "2024-05-02T09:31:00Z",
    image_url: "/api/studies/12/image",
    heatmap_url: "/api/studies/12/heatmap",
    prediction: {
      label: "PNEUMONIA",
      probability: 0.934,
      threshold: 0.41,
      model_version: "efficientnet_lite0-20240501-abc123",
      created_at: "2024-05-02T09:31:02Z",
      ...prediction,
    },
    report_url: "/api/reports/12",
    report_pdf_url: "/api/reports/12.pdf",
    ...overrides,
  };
}

export const PNG_INSPECT: InspectResult = {
  format: "png",
  width: 1024,
  height: 1024,
  dicom: null,
  preview: "data:image/png;base64,iVBORw0KGgo=",
};

export const DICOM_INSPECT: InspectResult = {
  format: "dicom",
  width: 2048,
  height: 2500,
  dicom: {
    patient_name: "Doe^Jane",
    patient_id: "DCM-123",
    sex: "F",
    birth_date: "2016-02-29",
    study_date: "20240501",
    modality: "DX",
    view_position: "PA",
  },
  preview: "data:image/png;base64,iVBORw0KGgo=",
};

export const MODEL_CARD: ModelCard = {
  model_version: "efficientnet_lite0-20240501-abc123",
  architecture: "EfficientNet-Lite0",
  backbone: "efficientnet_lite0",
  weights_origin: "ImageNet",
  class_names: ["NORMAL", "PNEUMONIA"],
  threshold: 0.41,
  threshold_rule: "Youden's J on the validation set",
  preprocessing: { size: 224, grayscale_to_rgb: true },
  training_data: {
    source: "Kermany et al. pediatric chest X-rays",
    fingerprint: "sha256:0123",
    counts: {
      train: { NORMAL: 1200, PNEUMONIA: 3400 },
      val: { NORMAL: 140, PNEUMONIA: 400 },
      test: { NORMAL: 234, PNEUMONIA: 390 },
    },
  },
  metrics: {
    test: {
      n: 624,
      accuracy: { value: 0.912, ci_low: 0.89, ci_high: 0.931 },
      auc: { value: 0.962, ci_low: 0.948, ci_high: 0.975 },
      sensitivity: { value: 0.95, ci_low: 0.925, ci_high: 0.97 },
      specificity: { value: 0.85, ci_low: 0.8, ci_high: 0.89 },
      precision: { value: 0.91, ci_low: 0.88, ci_high: 0.935 },
      f1: { value: 0.93, ci_low: 0.91, ci_high: 0.947 },
      confusion_matrix: [
        [199, 35],
        [20, 370],
      ],
    },
  },
  intended_use: "Screening support on pediatric chest X-rays.",
  limitations: ["Not a diagnosis.", "Pediatric frontal views only."],
  figures: {
    roc_curve: "/api/model/figures/roc_curve.png",
    confusion_matrix: "/api/model/figures/confusion_matrix.png",
  },
};

export function pngFile(name = "chest.png"): File {
  return new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], name, { type: "image/png" });
}

export function dicomFile(name = "chest.dcm"): File {
  return new File([new Uint8Array(132)], name, { type: "application/dicom" });
}

export const POPULATION: IntendedPopulation = {
  age_min_years: 1,
  age_max_years: 5,
  views: ["PA", "AP"],
  description: "Children aged one to five from one hospital in Guangzhou, frontal views.",
};

export const VALIDATION_REPORTS: ValidationReport[] = [
  {
    source: "adult_normal_openist",
    n: 272,
    answered: 229,
    refused: { outside_intended_population: 40, lateral_view: 3, photograph: 0 },
    pneumonia_called_share: 0.68,
    auc: null,
    sensitivity: null,
    specificity: { value: 0.32, ci_low: 0.26, ci_high: 0.38 },
    ppv: null,
    npv: null,
    brier: 0.41,
    figures: { score_histogram: "/api/model/validation/adult_normal_openist/score_histogram.png" },
  },
  {
    source: "kermany_test",
    n: 624,
    answered: 618,
    refused: { out_of_distribution: 6 },
    pneumonia_called_share: 0.64,
    auc: { value: 0.959, ci_low: 0.944, ci_high: 0.972 },
    sensitivity: { value: 0.951, ci_low: 0.929, ci_high: 0.972 },
    specificity: { value: 0.812, ci_low: 0.76, ci_high: 0.86 },
    ppv: { value: 0.894, ci_low: 0.866, ci_high: 0.921 },
    npv: { value: 0.91, ci_low: 0.87, ci_high: 0.945 },
    brier: { value: 0.072, ci_low: 0.05, ci_high: 0.095 },
    figures: {
      reliability: "/api/model/validation/kermany_test/reliability.png",
      roc_curve: "/api/model/validation/kermany_test/roc_curve.png",
    },
  },
];
