/**
 * The worklist (GET /api/worklist), mark as read (POST /api/studies/{id}/read) and batch upload
 * (one POST /api/studies per file, with progress per file). docs/api.md, "Hospital systems".
 */
import { z } from "zod";
import { request, uploadStudy, errorMessage } from "./api";
import { studySchema, type Study } from "./definitions";
import type { ApiSchemas, Fits, FitsApi } from "./api-schema";

export const URGENCIES = ["above_threshold", "below_threshold", "refused"] as const;
export type Urgency = (typeof URGENCIES)[number];

export const worklistItemSchema = studySchema.extend({
  source: z.string().nullish(),
  refusal: z.looseObject({ reason: z.string().nullish(), message: z.string().nullish() }).nullish(),
  read_at: z.string().nullish(),
  read_by: z.string().nullish(),
  urgency: z.enum(URGENCIES),
  margin: z.number().nullish(),
  patient: z
    .looseObject({ id: z.number().int().nullish(), name: z.string().nullish(), mrn: z.string().nullish() })
    .nullish(),
  dicom_send: z
    .looseObject({
      status: z.enum(["pending", "sent"]).nullish(),
      destination: z.string().nullish(),
      attempts: z.number().int().nullish(),
      last_error: z.string().nullish(),
    })
    .nullish(),
});
export type WorklistItem = z.infer<typeof worklistItemSchema>;

export const worklistSchema = z.looseObject({
  items: z.array(worklistItemSchema),
  total: z.number().int(),
  generated_at: z.string().nullish(),
});
export type Worklist = z.infer<typeof worklistSchema>;

/** `tsc` fails here when the API's declared worklist and these schemas drift apart (lib/api-schema.ts). */
export type WorklistFitsTheApi = [
  Fits<FitsApi<ApiSchemas["Worklist"]["items"][number], typeof worklistItemSchema>>,
  Fits<FitsApi<ApiSchemas["Worklist"], typeof worklistSchema>>,
];

export const RESULT_FILTERS = ["all", "pneumonia", "normal", "refused"] as const;
export const READ_FILTERS = ["all", "unread", "read"] as const;
export type WorklistFilter = {
  /** YYYY-MM-DD, or "" for every day. */
  date: string;
  result: (typeof RESULT_FILTERS)[number];
  read: (typeof READ_FILTERS)[number];
};

/** Today's date (UTC, as the server files studies) as YYYY-MM-DD. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function worklistPath(filter: WorklistFilter): string {
  const qs = new URLSearchParams({ date: filter.date || "all", result: filter.result, read: filter.read });
  return `/api/worklist?${qs}`;
}

export function getWorklist(filter: WorklistFilter, signal?: AbortSignal): Promise<Worklist> {
  return request(worklistPath(filter), worklistSchema, "the worklist", { signal });
}

export function markRead(studyId: number): Promise<Study> {
  return request(`/api/studies/${studyId}/read`, studySchema, `marking study ${studyId} as read`, {
    method: "POST",
  });
}

/** Words for the urgency column: what the model said, against its threshold. */
export function urgencyLabel(item: Pick<WorklistItem, "urgency" | "margin">): string {
  if (item.urgency === "refused") return "Refused: read without the tool";
  const points = Math.round(Math.abs(item.margin ?? 0) * 100);
  return item.urgency === "above_threshold"
    ? `Pneumonia suspected (${points} points above the threshold)`
    : `Below the threshold by ${points} points`;
}

/* ------------------------------------------------------------------ batch upload */

const ACCEPTED = /\.(png|jpe?g|dcm|dicom)$/i;

/**
 * The files of a selection (several files or a folder) that can be X-rays: PNG, JPEG, DICOM, and
 * files without an extension (DICOM files from a PACS export often have none). Hidden files and
 * DICOMDIR indexes are left out.
 */
export function uploadableFiles(files: Iterable<File>): File[] {
  return [...files].filter((f) => {
    const name = f.name;
    if (name.startsWith(".") || name.toUpperCase() === "DICOMDIR") return false;
    return ACCEPTED.test(name) || !name.includes(".");
  });
}

export type BatchFile = {
  name: string;
  status: "waiting" | "uploading" | "done" | "failed";
  progress: number;
  studyId: number | null;
  message: string | null;
};

export type Uploader = (file: File, onProgress: (fraction: number) => void) => Promise<Study>;

/** Upload files one after the other (the server predicts one at a time anyway), reporting each file's state. */
export async function uploadBatch(
  files: File[],
  onUpdate: (state: BatchFile[]) => void,
  upload: Uploader = (file, onProgress) => uploadStudy(file, null, onProgress),
): Promise<BatchFile[]> {
  const state: BatchFile[] = files.map((f) => ({
    name: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name,
    status: "waiting",
    progress: 0,
    studyId: null,
    message: null,
  }));
  const emit = () => onUpdate(state.map((s) => ({ ...s })));
  emit();
  for (let i = 0; i < files.length; i++) {
    state[i] = { ...state[i], status: "uploading" };
    emit();
    try {
      const study = await upload(files[i], (fraction) => {
        state[i] = { ...state[i], progress: fraction };
        emit();
      });
      state[i] = { ...state[i], status: "done", progress: 1, studyId: study.id, message: null };
    } catch (e) {
      state[i] = { ...state[i], status: "failed", message: errorMessage(e) };
    }
    emit();
  }
  return state;
}
