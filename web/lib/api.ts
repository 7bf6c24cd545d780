/**
 * Fetchers for the PneumoScan API (docs/api.md). Every answer is checked with its zod schema;
 * every failure becomes an ApiError whose `message` is the server's own `error.message`
 * (shown verbatim by the UI), or plain words when the server could not be reached.
 */
import { z } from "./zod";
import type { RequestBody } from "./api-schema";
import {
  apiErrorBodySchema,
  healthSchema,
  loginResultSchema,
  meSchema,
  inspectResultSchema,
  modelCardSchema,
  patientPageSchema,
  patientSchema,
  patientWithStudiesSchema,
  reportSchema,
  studySchema,
  type ApiErrorCode,
  type Health,
  type InspectResult,
  type LoginResult,
  type Me,
  type ModelCard,
  type Patient,
  type PatientCreate,
  type PatientPage,
  type PatientWithStudies,
  type Report,
  type Study,
} from "./definitions";

/** Same origin by default; NEXT_PUBLIC_API_BASE may point elsewhere (no trailing slash). */
export const API_BASE: string = (process.env.NEXT_PUBLIC_API_BASE ?? "").replace(/\/+$/, "");

/** Absolute-path URLs from the API (image_url, figures, ...) resolved against API_BASE. */
export function apiUrl(path: string): string {
  if (/^(https?:|data:|blob:)/i.test(path)) return path;
  return `${API_BASE}${path.startsWith("/") ? "" : "/"}${path}`;
}

export type ApiErrorKind = "http" | "network" | "invalid_response";

export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly reason: string | null;
  readonly kind: ApiErrorKind;
  /** The form or JSON field the server objected to, when it names one. */
  readonly field: string | null;
  /** duplicate_mrn: the patient who already has that MRN. */
  readonly patientId: number | null;
  /** Refusals: the measures behind the decision, as the server sent them. */
  readonly detail: Record<string, unknown> | null;

  constructor(opts: {
    message: string;
    status?: number;
    code?: ApiErrorCode;
    reason?: string | null;
    kind?: ApiErrorKind;
    field?: string | null;
    patientId?: number | null;
    detail?: Record<string, unknown> | null;
  }) {
    super(opts.message);
    this.name = "ApiError";
    this.status = opts.status ?? 0;
    this.code = opts.code ?? "unknown";
    this.reason = opts.reason ?? null;
    this.kind = opts.kind ?? "http";
    this.field = opts.field ?? null;
    this.patientId = opts.patientId ?? null;
    this.detail = opts.detail ?? null;
  }

  /** 422 not_chest_xray: the server looked at the image and refused to read it. */
  get isRefusal(): boolean {
    return this.code === "not_chest_xray";
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** 401: nobody is signed in (or the session ended). */
export function isUnauthorized(e: unknown): boolean {
  return isApiError(e) && e.status === 401;
}

/** Fired by data loaders that got a 401, so that the app (AuthProvider) notices the session has ended. */
export const UNAUTHORIZED_EVENT = "pneumoscan:unauthorized";

export function notifyUnauthorized(): void {
  if (typeof window !== "undefined") window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
}

/* ------------------------------------------------------------------ CSRF */

export const CSRF_COOKIE = "pneumoscan_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
let csrfFromServer: string | null = null;

/** The session's CSRF token: the readable cookie the server sets, else the one sign-in returned. */
export function csrfToken(): string | null {
  if (typeof document !== "undefined") {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === CSRF_COOKIE && v.length) return decodeURIComponent(v.join("="));
    }
  }
  return csrfFromServer;
}

export function rememberCsrfToken(token: string | null | undefined): void {
  csrfFromServer = token ?? null;
}

function withCsrf(method: string | undefined, headers: Record<string, string>): Record<string, string> {
  const m = (method ?? "GET").toUpperCase();
  if (m === "GET" || m === "HEAD" || m === "OPTIONS") return headers;
  const token = csrfToken();
  return token ? { ...headers, [CSRF_HEADER]: token } : headers;
}

export const NETWORK_MESSAGE =
  "Could not reach the PneumoScan server. Check that it is running and that this computer can reach it, then try again.";

/** Turn a non-2xx answer's body into an ApiError (JSON error envelope when there is one). */
export function errorFromBody(status: number, statusText: string, bodyText: string): ApiError {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = null;
  }
  const env = apiErrorBodySchema.safeParse(parsed);
  if (env.success) {
    const e = env.data.error;
    return new ApiError({
      message: e.message,
      status: e.status || status,
      code: e.code,
      reason: e.reason ?? null,
      field: e.field ?? null,
      patientId: e.patient_id ?? null,
      detail:
        typeof e.detail === "object" && e.detail !== null && !Array.isArray(e.detail)
          ? (e.detail as Record<string, unknown>)
          : null,
    });
  }
  const text = statusText ? `${status} ${statusText}` : String(status);
  return new ApiError({
    message: `The server answered ${text} without an explanation. Please try again in a moment.`,
    status,
    code: status === 404 ? "not_found" : "http_error",
  });
}

function invalidResponse(what: string, issues: z.ZodError): ApiError {
  const first = issues.issues[0];
  const where = first ? ` (${first.path.join(".") || "body"}: ${first.message})` : "";
  return new ApiError({
    message: `The server's answer for ${what} was not in the expected form${where}. The web app and the server may be different versions.`,
    kind: "invalid_response",
  });
}

/** GET/POST/... a JSON endpoint: session cookie, CSRF header on changes, errors as ApiErrors. */
export async function request<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
  init?: RequestInit,
): Promise<z.infer<S>> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      credentials: "same-origin",
      ...init,
      headers: withCsrf(init?.method, {
        Accept: "application/json",
        ...((init?.headers as Record<string, string>) ?? {}),
      }),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError({ message: NETWORK_MESSAGE, kind: "network" });
  }
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError({
      message: `The server's answer for ${what} was not JSON. Is the API running behind this address?`,
      kind: "invalid_response",
      status: res.status,
    });
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalidResponse(what, parsed.error);
  return parsed.data;
}

/** RequestInit for a request with a JSON body (or none), for ``request``. */
export function jsonInit(method: string, body?: unknown, signal?: AbortSignal): RequestInit {
  return body === undefined
    ? { method, signal }
    : { method, signal, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

/* ------------------------------------------------------------------ endpoints */

export async function login(username: string, password: string): Promise<LoginResult> {
  const result = await request(
    "/api/auth/login",
    loginResultSchema,
    "signing in",
    jsonInit("POST", { username, password } satisfies RequestBody<"login">),
  );
  rememberCsrfToken(result.csrf_token);
  return result;
}

export async function logout(): Promise<void> {
  await request("/api/auth/logout", z.unknown(), "signing out", { method: "POST" });
  rememberCsrfToken(null);
}

export async function getMe(signal?: AbortSignal): Promise<Me> {
  const me = await request("/api/auth/me", meSchema, "the signed-in user", { signal });
  if (me.csrf_token) rememberCsrfToken(me.csrf_token);
  return me;
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return request("/api/health", healthSchema, "the health check", { signal });
}

export function getModelCard(signal?: AbortSignal): Promise<ModelCard> {
  return request("/api/model", modelCardSchema, "the model card", { signal });
}

export function inspectImage(file: File, signal?: AbortSignal): Promise<InspectResult> {
  const form = new FormData();
  form.append("image", file, file.name);
  return request("/api/inspect", inspectResultSchema, "the image preview", {
    method: "POST",
    body: form,
    signal,
  });
}

export function createPatient(body: PatientCreate): Promise<Patient> {
  return request(
    "/api/patients",
    patientSchema,
    "the new patient",
    jsonInit("POST", body satisfies RequestBody<"createPatient">),
  );
}

export function listPatients(
  params: { q?: string; page?: number; per_page?: number },
  signal?: AbortSignal,
): Promise<PatientPage> {
  const qs = new URLSearchParams();
  if (params.q) qs.set("q", params.q);
  qs.set("page", String(params.page ?? 1));
  qs.set("per_page", String(params.per_page ?? 20));
  return request(`/api/patients?${qs}`, patientPageSchema, "the patient list", { signal });
}

export function getPatient(id: number, signal?: AbortSignal): Promise<PatientWithStudies> {
  return request(`/api/patients/${id}`, patientWithStudiesSchema, `patient ${id}`, { signal });
}

export function getStudy(id: number, signal?: AbortSignal): Promise<Study> {
  return request(`/api/studies/${id}`, studySchema, `study ${id}`, { signal });
}

export function getReport(studyId: number, signal?: AbortSignal): Promise<Report> {
  return request(`/api/reports/${studyId}`, reportSchema, `report ${studyId}`, { signal });
}

export function studyImageUrl(study: Pick<Study, "id" | "image_url">): string {
  return apiUrl(study.image_url ?? `/api/studies/${study.id}/image`);
}

/** The heatmap's URL, or null when the server says the study has none (heatmap_url: null). */
export function studyHeatmapUrl(study: Pick<Study, "id" | "heatmap_url">): string | null {
  if (study.heatmap_url === null) return null;
  return apiUrl(study.heatmap_url ?? `/api/studies/${study.id}/heatmap`);
}

export function reportPdfUrl(study: Pick<Study, "id" | "report_pdf_url">): string {
  return apiUrl(study.report_pdf_url ?? `/api/reports/${study.id}.pdf`);
}

/**
 * POST /api/studies with upload progress (XMLHttpRequest: fetch cannot report upload progress).
 * `onProgress` receives 0..1 while the bytes go up; analysis time after that is not measurable.
 */
export function uploadStudy(
  file: File,
  patientId: number | null,
  onProgress?: (fraction: number) => void,
): Promise<Study> {
  return new Promise<Study>((resolve, reject) => {
    const form = new FormData();
    form.append("image", file, file.name);
    if (patientId != null) form.append("patient_id", String(patientId));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl("/api/studies"));
    xhr.setRequestHeader("Accept", "application/json");
    const token = csrfToken();
    if (token) xhr.setRequestHeader(CSRF_HEADER, token);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && onProgress) onProgress(ev.total ? ev.loaded / ev.total : 0);
    };
    // Small files may finish without a progress event: say "all sent" when the upload ends.
    xhr.upload.onload = () => onProgress?.(1);
    xhr.onerror = () => reject(new ApiError({ message: NETWORK_MESSAGE, kind: "network" }));
    xhr.onload = () => {
      const text = xhr.responseText ?? "";
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(errorFromBody(xhr.status, xhr.statusText, text));
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        reject(new ApiError({ message: "The server's answer for the upload was not JSON.", kind: "invalid_response" }));
        return;
      }
      const parsed = studySchema.safeParse(body);
      if (parsed.success) resolve(parsed.data);
      else reject(invalidResponse("the new study", parsed.error));
    };
    xhr.send(form);
  });
}

/** GET the report PDF as a Blob (errors come back as the JSON envelope and become ApiError). */
export async function fetchReportPdf(study: Pick<Study, "id" | "report_pdf_url">): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(reportPdfUrl(study), { headers: { Accept: "application/pdf" } });
  } catch {
    throw new ApiError({ message: NETWORK_MESSAGE, kind: "network" });
  }
  if (!res.ok) throw errorFromBody(res.status, res.statusText, await res.text());
  const blob = await res.blob();
  const type = res.headers.get("Content-Type") ?? blob.type;
  if (!type.includes("pdf")) {
    throw new ApiError({
      message: `The server sent "${type || "unknown content"}" instead of a PDF.`,
      kind: "invalid_response",
    });
  }
  return blob;
}

/** Plain-words error text for any thrown value (ApiError messages are shown verbatim). */
export function errorMessage(e: unknown): string {
  if (isApiError(e)) return e.message;
  if (e instanceof Error && e.message) return e.message;
  return "Something unexpected went wrong. Please try again.";
}
