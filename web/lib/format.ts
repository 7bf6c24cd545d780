/** Display helpers shared by the pages (pure functions, unit-tested). */
import type { RefusalReason, Sex } from "./definitions";

/** 0.934 -> "93.4%". */
export function formatPercent(p: number | null | undefined, digits = 1): string {
  if (p == null || Number.isNaN(p)) return "—";
  return `${(p * 100).toFixed(digits)}%`;
}

/**
 * A probability as a percentage that never overstates certainty: 0.99996 -> ">99.9%",
 * 0.00002 -> "<0.1%", 1 -> "100.0%".
 */
export function formatProbability(p: number | null | undefined, digits = 1): string {
  if (p == null || Number.isNaN(p)) return "—";
  const scale = 10 ** digits;
  const rounded = Math.round(p * 100 * scale) / scale;
  if (p < 1 && rounded >= 100) return `>${(100 - 1 / scale).toFixed(digits)}%`;
  if (p > 0 && rounded <= 0) return `<${(1 / scale).toFixed(digits)}%`;
  return `${(p * 100).toFixed(digits)}%`;
}

/**
 * A probability and the threshold it is compared with, with just enough decimals that two
 * different values never read the same ("99.97%" vs "99.95%" rather than "100.0%" twice).
 */
export function formatVersus(p: number, t: number): [string, string] {
  for (let d = 1; d <= 4; d++) {
    const a = formatProbability(p, d);
    const b = formatProbability(t, d);
    if (a !== b || p === t) return [a, b];
  }
  return [formatProbability(p, 4), formatProbability(t, 4)];
}

/** Metric value with its 95% CI: "0.912 (95% CI 0.890–0.931)". */
export function formatMetric(
  m: { value: number; ci_low?: number | null; ci_high?: number | null } | null | undefined,
  digits = 3,
): string {
  if (!m) return "—";
  const v = m.value.toFixed(digits);
  if (m.ci_low == null || m.ci_high == null) return v;
  return `${v} (95% CI ${m.ci_low.toFixed(digits)}–${m.ci_high.toFixed(digits)})`;
}

/** ISO date or date-time -> "12 Mar 2024" / "12 Mar 2024, 14:05" (in the browser's time zone). */
export function formatDate(iso: string | null | undefined, withTime = false): string {
  if (!iso) return "—";
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(iso);
  const d = new Date(dateOnly ? `${iso}T00:00:00` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  const opts: Intl.DateTimeFormatOptions = { day: "numeric", month: "short", year: "numeric" };
  if (withTime && !dateOnly) {
    opts.hour = "2-digit";
    opts.minute = "2-digit";
  }
  return d.toLocaleString("en-GB", opts);
}

const SEX_LABELS: Record<Sex, string> = {
  female: "Female",
  male: "Male",
  other: "Other",
  unknown: "Unknown",
};

export function sexLabel(sex: string | null | undefined): string {
  if (!sex) return "—";
  return SEX_LABELS[sex as Sex] ?? sex;
}

/** DICOM PatientSex (M/F/O) or a word -> the API's sex value, or null when unknown. */
export function sexFromDicom(value: string | null | undefined): Sex | null {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "f" || v === "female") return "female";
  if (v === "m" || v === "male") return "male";
  if (v === "o" || v === "other") return "other";
  if (v === "u" || v === "unknown") return "unknown";
  return null;
}

/**
 * DICOM person name "Family^Given^Middle^Prefix^Suffix" -> "Given Middle Family".
 * Names without carets are returned trimmed, as they are.
 */
export function nameFromDicom(value: string | null | undefined): string {
  const v = (value ?? "").trim();
  if (!v.includes("^")) return v;
  const [family = "", given = "", middle = "", prefix = "", suffix = ""] = v.split("^").map((s) => s.trim());
  return [prefix, given, middle, family, suffix].filter(Boolean).join(" ");
}

/** DICOM DA "YYYYMMDD" or ISO "YYYY-MM-DD" -> "YYYY-MM-DD", else null. */
export function dateFromDicom(value: string | null | undefined): string | null {
  const v = (value ?? "").trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) return null;
  const iso = `${m[1]}-${m[2]}-${m[3]}`;
  return isRealDate(iso) ? iso : null;
}

/** True when "YYYY-MM-DD" names a day that exists in the calendar. */
export function isRealDate(iso: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

/** Whole years between a "YYYY-MM-DD" birth date and `today` (local date). */
export function ageOn(birthIso: string, today: Date = new Date()): number {
  const [y, m, d] = birthIso.split("-").map(Number);
  let age = today.getFullYear() - y;
  const beforeBirthday = today.getMonth() + 1 < m || (today.getMonth() + 1 === m && today.getDate() < d);
  if (beforeBirthday) age -= 1;
  return age;
}

/** Local calendar date as "YYYY-MM-DD". */
export function isoDay(d: Date = new Date()): string {
  const mm = String(d.getMonth() + 1).padStart(2, "0");
  const dd = String(d.getDate()).padStart(2, "0");
  return `${d.getFullYear()}-${mm}-${dd}`;
}

/** "Age" cell for a patient: "7 years" from age_years or computed from the birth date. */
export function patientAge(p: { birth_date?: string | null; age_years?: number | null }): string {
  if (p.birth_date && isRealDate(p.birth_date)) {
    const a = ageOn(p.birth_date);
    return a === 1 ? "1 year" : `${a} years`;
  }
  if (p.age_years != null) return p.age_years === 1 ? "1 year" : `${p.age_years} years`;
  return "—";
}

const REFUSAL_TEXT: Record<string, string> = {
  photograph: "This looks like an ordinary photograph, not an X-ray.",
  document: "This looks like a document or a scanned page, not an X-ray.",
  blank_image: "The image is blank or almost a single colour, so there is nothing to read.",
  not_radiograph: "This does not look like a radiograph.",
  ct_or_mr: "This looks like a CT or MR slice. PneumoScan reads plain chest X-rays only.",
  out_of_distribution: "This image is too unlike the chest X-rays the model learned from for its answer to be trusted.",
  not_chest: "The DICOM header says this image is not of the chest.",
  lateral_view: "This is a side (lateral) view. PneumoScan reads frontal chest X-rays (PA or AP) only.",
  outside_intended_population:
    "The patient or the X-ray is outside the population the model was validated on, so its answer would not be reliable.",
};

/** Plain-words sentence for a refusal reason code (the server's message is shown as well). */
export function refusalReasonText(reason: RefusalReason | null | undefined): string {
  if (!reason) return "The image does not look like a chest X-ray.";
  return REFUSAL_TEXT[reason] ?? `The image does not look like a chest X-ray (${reason.replace(/_/g, " ")}).`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** "?id=12" -> 12; anything else (missing, 0, negative, "abc", "1.5") -> null. */
export function parseId(value: string | null | undefined): number | null {
  if (!value || !/^\d{1,12}$/.test(value)) return null;
  const n = Number(value);
  return n > 0 ? n : null;
}
